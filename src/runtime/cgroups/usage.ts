import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CgroupMode } from './detect.js'

export interface CgroupUsage {
  cpuUserMs: number
  cpuSysMs: number
  memoryPeakBytes: number
  oomKilled: boolean
}

/** Parse "key value" lines (cpu.stat, memory.events, memory.oom_control, cpuacct.stat). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/)
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v)
  }
  return out
}

/** USER_HZ is 100 on every Linux architecture skiff runs on. */
const TICK_MS = 10

export function usageFromV2(files: { cpuStat?: string; memoryEvents?: string; memoryPeak?: string }): CgroupUsage {
  const cpu = parseKeyValues(files.cpuStat ?? '')
  const ev = parseKeyValues(files.memoryEvents ?? '')
  return {
    cpuUserMs: Math.round((cpu.user_usec ?? 0) / 1000),
    cpuSysMs: Math.round((cpu.system_usec ?? 0) / 1000),
    memoryPeakBytes: Number(files.memoryPeak?.trim() || 0),
    oomKilled: (ev.oom_kill ?? 0) > 0,
  }
}

export function usageFromV1(files: { cpuacctStat?: string; usageUser?: string; usageSys?: string; maxUsage?: string; oomControl?: string }): CgroupUsage {
  const ns = (s?: string) => (s && /^\d+/.test(s.trim()) ? Number(s.trim()) : undefined)
  const stat = parseKeyValues(files.cpuacctStat ?? '')
  const user = ns(files.usageUser)
  const sys = ns(files.usageSys)
  const oom = parseKeyValues(files.oomControl ?? '')
  return {
    cpuUserMs: user !== undefined ? Math.round(user / 1e6) : (stat.user ?? 0) * TICK_MS,
    cpuSysMs: sys !== undefined ? Math.round(sys / 1e6) : (stat.system ?? 0) * TICK_MS,
    memoryPeakBytes: Number(files.maxUsage?.trim() || 0),
    oomKilled: (oom.oom_kill ?? 0) > 0,
  }
}

// cgroupfs files are generated in memory by the kernel: a synchronous read costs
// microseconds, less than dispatching one to the thread pool and back.
const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8')
  } catch {
    return undefined
  }
}

/** Read usage of a (stopped, not yet deleted) container's cgroup. */
export function readUsage(mode: CgroupMode, dirs: { memory: string; cpu: string }): CgroupUsage {
  if (mode === 'unified') {
    return usageFromV2({ cpuStat: read(join(dirs.cpu, 'cpu.stat')), memoryEvents: read(join(dirs.memory, 'memory.events')), memoryPeak: read(join(dirs.memory, 'memory.peak')) })
  }
  return usageFromV1({
    cpuacctStat: read(join(dirs.cpu, 'cpuacct.stat')),
    usageUser: read(join(dirs.cpu, 'cpuacct.usage_user')),
    usageSys: read(join(dirs.cpu, 'cpuacct.usage_sys')),
    maxUsage: read(join(dirs.memory, 'memory.max_usage_in_bytes')),
    oomControl: read(join(dirs.memory, 'memory.oom_control')),
  })
}
