import { constants } from 'node:os'
import { existsSync, readFileSync, rmdirSync } from 'node:fs'
import { constants as constants_fs } from 'node:fs'
import { open, readFile, writeFile } from 'node:fs/promises'
import { removeFile } from '../lib/remove-tree.js'
import { join } from 'node:path'
import type { Clock } from '../lib/clock.js'
import type { Logger } from '../lib/log.js'
import type { CgroupMode } from './cgroups/detect.js'
import { readUsage } from './cgroups/usage.js'
import type { OciCli } from './driver.js'
import type { ExitWatcher } from './exit-watcher.js'
import { removeDir, unmountRootfs } from './rootfs.js'
import { detachNetwork, type NetworkDeps, type NetworkMeta } from './network/attach.js'
import { notATerminal, stdinUnavailable } from './errors.js'
import { StdinWriter } from './stdin.js'
import { execInContainer } from './exec.js'
import type { Container, ExecOptions, ExecResult, ExitStatus } from './types.js'

/** What survives the daemon: written next to the bundle at create time. */
export interface ContainerMeta {
  id: string
  createdAt: number
  startedAt?: number
  timeoutMs?: number
  cgroupMode: CgroupMode
  cgroupDirs: { memory: string; cpu: string; all: string[] }
  merged: string
  /** created with conmon -i: stdin is open and reachable through the attach socket */
  openStdin?: boolean
  /** the container's own names and addresses in its /etc/hosts (for updateHosts) */
  etc?: { names: string[]; ips: string[] }
  /** a bridge attachment, undone by remove() */
  network?: NetworkMeta
  /** created with conmon -t: a pty, resizable through the bundle's ctl fifo */
  terminal?: boolean
}

const SIGNALS = Object.entries(constants.signals) as [NodeJS.Signals, number][]

/** conmon reports 128+N for a process killed by signal N (as shells and docker do). */
export function decodeExit(code: number): { exitCode: number | null; signal: NodeJS.Signals | null } {
  if (code > 128 && code <= 128 + 64) {
    const sig = SIGNALS.find(([, n]) => n === code - 128)?.[0]
    if (sig) return { exitCode: null, signal: sig }
  }
  return { exitCode: code, signal: null }
}

export interface ContainerDeps {
  /** the bundle dir, containers/<id> */
  dir: string
  /** the link conmon makes to the bundle dir, sockets/<id> */
  socketLink: string
  cli: OciCli
  exits: ExitWatcher
  clock: Clock
  log: Logger
  net: NetworkDeps
}

export class OciContainer implements Container {
  #timer: { cancel(): void } | undefined
  #exit: Promise<ExitStatus> | undefined
  #removed: Promise<void> | undefined

  constructor(
    readonly id: string,
    readonly pid: number,
    private meta: ContainerMeta,
    private readonly d: ContainerDeps,
  ) {}

  get #metaPath() {
    return join(this.d.dir, 'meta.json')
  }
  get #timedOutMarker() {
    return join(this.d.dir, 'timedout')
  }

  async start(): Promise<void> {
    this.meta.startedAt = this.d.clock.now().getTime()
    const persist = writeFile(this.#metaPath, JSON.stringify(this.meta))
    // With a timeout, persist the start time first: after a daemon restart the
    // timeout is re-armed from it. Without one it only refines the wall time, so
    // the write need not delay the start.
    if (this.meta.timeoutMs) await persist
    await Promise.all([persist, this.d.cli.start(this.id)])
    this.armTimeout()
  }

  /** (Re-)arm the wall-clock timeout from the recorded start time. */
  armTimeout(): void {
    const { timeoutMs, startedAt } = this.meta
    if (!timeoutMs || startedAt === undefined || this.#timer) return
    const left = Math.max(0, startedAt + timeoutMs - this.d.clock.now().getTime())
    this.#timer = this.d.clock.setTimeout(() => void this.#timeout(), left)
  }

  async #timeout(): Promise<void> {
    if (this.d.exits.read(this.id)) return
    await writeFile(this.#timedOutMarker, String(this.d.clock.now().getTime()))
    await this.d.cli.kill(this.id, 'KILL', { all: true }).catch((err) => this.d.log.warn({ err, id: this.id }, 'timeout kill failed'))
  }

  wait(opts: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    if (opts.signal) return this.#waitOnce(opts.signal)
    return (this.#exit ??= this.#waitOnce())
  }

  async #waitOnce(signal?: AbortSignal): Promise<ExitStatus> {
    const { code, atMs } = await this.d.exits.wait(this.id, signal, () => this.#monitorGone())
    this.#timer?.cancel()
    const usage = readUsage(this.meta.cgroupMode, this.meta.cgroupDirs)
    const marker = existsSync(this.#timedOutMarker)
    const startedAt = this.meta.startedAt ?? this.meta.createdAt
    // the exit file's mtime has sub-millisecond precision; Date does not
    const wallMs = Math.max(0, Math.round((atMs - startedAt) * 100) / 100)
    // conmon ended without writing the exit file (no room on the data dir for it): the code is lost
    if (code === null) {
      return {
        exitCode: null, signal: null, oomKilled: usage.oomKilled, timedOut: marker, exitUnknown: true,
        usage: { wallMs, cpuUserMs: usage.cpuUserMs, cpuSysMs: usage.cpuSysMs, memoryPeakBytes: usage.memoryPeakBytes },
      }
    }
    const { exitCode, signal: sig } = decodeExit(code)
    // Killed by conmon's -T backstop while skiff was down: no marker, but the clock says so.
    const timedOut = marker || (sig === 'SIGKILL' && !!this.meta.timeoutMs && wallMs >= this.meta.timeoutMs)
    return {
      exitCode,
      signal: sig,
      oomKilled: usage.oomKilled && !timedOut,
      timedOut,
      usage: { wallMs, cpuUserMs: usage.cpuUserMs, cpuSysMs: usage.cpuSysMs, memoryPeakBytes: usage.memoryPeakBytes },
    }
  }

  #conmonPid: number | undefined

  /** conmon (from its pid file, written at its start) is no longer running. Unknown pid: not gone. */
  #monitorGone(): boolean {
    if (this.#conmonPid === undefined) {
      try {
        const n = Number(readFileSync(join(this.d.dir, 'conmon.pid'), 'utf8').trim())
        if (n > 0) this.#conmonPid = n
      } catch {
        return false
      }
    }
    if (!this.#conmonPid) return false
    try {
      process.kill(this.#conmonPid, 0)
      return false
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH'
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.d.cli.kill(this.id, signal, { all: signal === 'SIGKILL' })
  }

  exec(cmd: string[], o: ExecOptions = {}): Promise<ExecResult> {
    return execInContainer({ id: this.id, cli: this.d.cli, dir: this.d.dir, rootfs: this.meta.merged }, cmd, o)
  }

  openStdin(): StdinWriter {
    if (!this.meta.openStdin) throw stdinUnavailable(this.id, 'it was not created with an open stdin (interactive)')
    // conmon binds its attach socket in the bundle dir (<sockets>/<id> links to it)
    return StdinWriter.open(this.id, join(this.d.dir, 'attach'))
  }

  async resize(rows: number, cols: number): Promise<void> {
    if (!this.meta.terminal) throw notATerminal(this.id)
    // conmon's terminal control fifo (src/ctrl.c): "<type> <height> <width>\n", type 1 = resize.
    // conmon holds its read end open, so a non-blocking open for writing succeeds at once.
    const fh = await open(join(this.d.dir, 'ctl'), constants_fs.O_WRONLY | constants_fs.O_NONBLOCK)
    try {
      await fh.write(`1 ${rows} ${cols}\n`)
    } finally {
      await fh.close()
    }
  }

  remove(): Promise<void> {
    return (this.#removed ??= this.#remove())
  }

  async #remove(): Promise<void> {
    this.#timer?.cancel()
    // A container whose exit conmon recorded has no process left: its runtime
    // state is a directory and its cgroup is empty, so removing both here does
    // what `crun delete` would, without forking the daemon once more per job.
    // Anything still running goes through the runtime's own forced delete.
    const exited = this.d.exits.read(this.id)
    if (exited) await removeDir(join(this.d.cli.stateRoot, this.id))
    else await this.d.cli.delete(this.id, { force: true })
    await unmountRootfs(this.meta.merged, { lazy: !!exited })
    await removeCgroups(this.meta.cgroupDirs.all)
    // the netns outlives every process of the container: CNI DEL can still find its veth
    if (this.meta.network) await detachNetwork(this.meta.network, this.d.dir, this.d.net).catch((err) => this.d.log.warn({ err, id: this.id }, 'network teardown failed'))
    await Promise.all([removeDir(this.d.dir), removeFile(join(this.d.exits.dir, this.id)), removeFile(this.d.socketLink)])
  }
}

/** rmdir every cgroup dir of the container. When pid 1 exits the kernel kills the
 *  rest of its pid namespace, but they can take a moment to leave the cgroup
 *  (EBUSY): kill what is left and retry for up to ~2 s rather than leak it. */
export async function removeCgroups(dirs: readonly string[]): Promise<string[]> {
  let left = [...dirs]
  for (let attempt = 0; attempt < 40 && left.length; attempt++) {
    // Synchronous: an rmdir in cgroupfs is an in-kernel operation of ~15 µs, a
    // third of the cost of dispatching it to the thread pool and back.
    left = left.filter((d) => {
      try {
        rmdirSync(d)
        return false
      } catch (e) {
        return (e as NodeJS.ErrnoException).code !== 'ENOENT'
      }
    })
    if (!left.length) break
    for (const d of left) {
      const procs = await readFile(join(d, 'cgroup.procs'), 'utf8').catch(() => '')
      for (const pid of procs.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          /* already gone */
        }
      }
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return left
}

export async function readMeta(dir: string): Promise<ContainerMeta | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as ContainerMeta
  } catch {
    return undefined
  }
}
