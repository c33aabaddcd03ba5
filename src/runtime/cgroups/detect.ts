import { existsSync } from 'node:fs'
import { join } from 'node:path'

export type CgroupMode = 'unified' | 'hybrid' | 'legacy'

/** cgroup v2 only (unified), v1 controllers plus a cgroup2 mount (hybrid), or v1 only (legacy). */
export function detectCgroupMode(root = '/sys/fs/cgroup'): CgroupMode {
  if (existsSync(join(root, 'cgroup.controllers'))) return 'unified'
  if (existsSync(join(root, 'unified', 'cgroup.controllers'))) return 'hybrid'
  return 'legacy'
}

/** Where a container's controller files live, for a cgroupfs-style cgroupsPath like /skiff/<id>. */
export function cgroupDirs(mode: CgroupMode, cgroupsPath: string, root = '/sys/fs/cgroup') {
  const rel = cgroupsPath.replace(/^\/+/, '')
  if (mode === 'unified') return { memory: join(root, rel), cpu: join(root, rel), pids: join(root, rel), all: [join(root, rel)] }
  const v1 = (c: string) => join(root, c, rel)
  const all = ['memory', 'cpu,cpuacct', 'cpu', 'cpuacct', 'pids', 'blkio', 'devices', 'freezer', 'cpuset', 'hugetlb', 'net_cls,net_prio', 'perf_event', 'systemd', 'unified']
    .map(v1)
  return { memory: v1('memory'), cpu: v1('cpuacct'), pids: v1('pids'), all }
}
