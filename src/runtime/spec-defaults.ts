import type { OciMount } from './oci-spec.js'

export { DEFAULT_CAPS } from './capabilities.js'

// moby oci/defaults.go: paths a container must not read, and ones it must not write.
export const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
]
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

export function defaultMounts(opts: { network: 'none' | 'host' | 'bridge' }): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // With the host network, /sys cannot be mounted fresh (no new netns): bind it read-only.
    opts.network === 'host'
      ? { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ]
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Parse /proc/self/limits into hard limits; containers may not exceed them
 *  (raising a hard limit needs CAP_SYS_RESOURCE, which skiff may not have). */
export function parseHostLimits(text: string): Record<string, number> {
  const names: Record<string, string> = {
    'Max open files': 'RLIMIT_NOFILE',
    'Max processes': 'RLIMIT_NPROC',
    'Max core file size': 'RLIMIT_CORE',
  }
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    for (const [label, key] of Object.entries(names)) {
      if (!line.startsWith(label)) continue
      const hard = line.slice(label.length).trim().split(/\s+/)[1]
      out[key] = hard === 'unlimited' || hard === undefined ? Number.MAX_SAFE_INTEGER : Number(hard)
    }
  }
  return out
}

/** docker's default nofile is 1048576; capped at what the host grants. */
export function defaultRlimits(host: Record<string, number>) {
  const nofile = Math.min(1_048_576, host.RLIMIT_NOFILE ?? 1024)
  return [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }]
}
