import { availableParallelism, totalmem } from 'node:os'
import { readFileSync } from 'node:fs'
import { invalidArgument, type SkiffError } from '../lib/errors.js'
import { diskLimitUnavailable, type DiskSupport } from './disk-quota.js'

// What a job may ask for on this host, as pure functions of the host's facts:
// the limits below are the kernel's, crun's and conmon's, found the hard way
// (each one otherwise surfaces as a failed job with the runtime's words, e.g.
// crun: "writing file `cpu.cfs_quota_us`: Invalid argument").

/** The host facts the checks depend on (probeHostFacts reads them once). */
export interface HostFacts {
  /** CPUs this process may run on (docker's runtime.NumCPU(): the affinity mask) */
  cpus: number
  /** physical memory */
  memoryBytes: number
  /** soft RLIMIT_STACK of the daemon, inherited by conmon, crun and the job's execve (Infinity: unlimited) */
  stackSoftLimit: number
  /** whether limits.disk can be honoured (the runtime's diskSupport(); absent: not known, so not) */
  disk?: DiskSupport
}

/** docker's --cpus=0.5 is quota/period = 50000/100000 µs. */
export const CFS_PERIOD_US = 100_000
export const cpuQuotaUs = (cpus: number) => Math.round(cpus * CFS_PERIOD_US)
/** kernel/sched/core.c tg_set_cfs_bandwidth: quota < min_cfs_quota_period (1 ms) is EINVAL. */
export const MIN_CFS_QUOTA_US = 1000
export const MIN_CPUS = MIN_CFS_QUOTA_US / CFS_PERIOD_US

/** conmon's -T is a C int of seconds, and skiff adds 2 s of slack to the job's timeout. */
export const MAX_TIMEOUT_MS = (2 ** 31 - 1 - 2) * 1000

/** include/uapi/linux/binfmts.h: one argv or envp string, NUL included, is at most 32 pages. */
export const MAX_ARG_STRLEN = 32 * 4096
/** include/uapi/linux/limits.h ARG_MAX: the floor of the argv+envp budget. */
const ARG_MAX_FLOOR = 128 * 1024
/** include/uapi/linux/resource.h _STK_LIM: the budget never exceeds 3/4 of it. */
const STK_LIM = 8 * 1024 * 1024

/** fs/exec.c bprm_stack_limits: bytes execve(2) takes for argv + envp strings
 *  and their pointers: a quarter of the stack limit, capped at 6 MiB, at least 128 KiB. */
export function execArgMax(stackSoftLimit: number): number {
  return Math.max(Math.min((STK_LIM / 4) * 3, stackSoftLimit / 4), ARG_MAX_FLOOR)
}

/** below this, the overlay's own work dir and a shell's first write would not fit */
export const MIN_DISK_BYTES = 1024 * 1024

/** Pure: the first limit the host cannot honour, as a 400 naming the field. */
export function limitsProblem(l: { memoryBytes?: number; cpus?: number; timeoutMs?: number; diskBytes?: number }, host: HostFacts): SkiffError | undefined {
  if (l.cpus !== undefined) {
    if (cpuQuotaUs(l.cpus) < MIN_CFS_QUOTA_US)
      return invalidArgument('limits.cpus', `must be at least ${MIN_CPUS} (the kernel's minimum CFS quota is ${MIN_CFS_QUOTA_US} µs per ${CFS_PERIOD_US} µs period)`)
    if (l.cpus > host.cpus) return invalidArgument('limits.cpus', `must be at most ${host.cpus}: the host has ${host.cpus} CPU${host.cpus === 1 ? '' : 's'}`)
  }
  if (l.memoryBytes !== undefined) {
    if (!Number.isSafeInteger(l.memoryBytes)) return invalidArgument('limits.memory', 'too large')
    if (l.memoryBytes > host.memoryBytes) return invalidArgument('limits.memory', `must be at most the host's memory (${host.memoryBytes} bytes)`)
  }
  if (l.timeoutMs !== undefined && l.timeoutMs > MAX_TIMEOUT_MS) return invalidArgument('limits.timeout', `must be at most ${MAX_TIMEOUT_MS / 1000}s`)
  if (l.diskBytes !== undefined) {
    if (!Number.isSafeInteger(l.diskBytes)) return invalidArgument('limits.disk', 'too large')
    if (l.diskBytes < MIN_DISK_BYTES) return invalidArgument('limits.disk', 'must be at least 1m')
    const d = host.disk ?? { available: false, reason: 'this daemon did not find out whether its data dir\'s filesystem can limit a job\'s disk' }
    if (!d.available) return diskLimitUnavailable(d.reason)
  }
  return undefined
}

/** Pure: whether execve(2) can take this argv and environment ("K=V" strings),
 *  else a 400 naming the field (`env.K`, `env`, `cmd`). */
export function execSizeProblem(argv: readonly string[], env: readonly string[], host: HostFacts, fields: { cmd?: string; env?: string } = {}): SkiffError | undefined {
  const cmdField = fields.cmd ?? 'cmd'
  const envField = fields.env ?? 'env'
  let total = 0
  for (const a of argv) {
    const n = Buffer.byteLength(a) + 1
    if (n > MAX_ARG_STRLEN) return invalidArgument(cmdField, `an argument of ${n - 1} bytes is longer than the kernel takes (${MAX_ARG_STRLEN - 1})`)
    total += n
  }
  for (const kv of env) {
    const n = Buffer.byteLength(kv) + 1
    if (n > MAX_ARG_STRLEN) {
      const name = kv.slice(0, Math.max(0, kv.indexOf('=')))
      return invalidArgument(`${envField}.${name}`, `"${name}=value" is ${n - 1} bytes, longer than the kernel takes for one variable (${MAX_ARG_STRLEN - 1})`)
    }
    total += n
  }
  const budget = execArgMax(host.stackSoftLimit) - (Math.max(argv.length, 1) + env.length) * 8
  if (total > budget) return invalidArgument(envField, `the command and environment take ${total} bytes, more than execve accepts here (${budget}, ARG_MAX)`)
  return undefined
}

/** Parse "Max stack size" (soft) from /proc/self/limits; Infinity when unlimited. */
export function parseStackSoftLimit(limits: string): number {
  const m = /^Max stack size\s+(\S+)/m.exec(limits)
  if (!m || m[1] === 'unlimited') return Infinity
  return Number(m[1])
}

/** Side effects at the edge: read the host facts once, at daemon start. */
export function probeHostFacts(): HostFacts {
  let stack = 8 * 1024 * 1024
  try {
    stack = parseStackSoftLimit(readFileSync('/proc/self/limits', 'utf8'))
  } catch {
    /* keep the usual default */
  }
  return { cpus: availableParallelism(), memoryBytes: totalmem(), stackSoftLimit: stack }
}
