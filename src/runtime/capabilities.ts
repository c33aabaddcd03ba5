// Linux capabilities of a job: the default set, cap_add/cap_drop, and which
// additions need the daemon's opt-in. Pure.
//
// The default is Podman's (containers/common pkg/config default_capabilities):
// docker's set minus NET_RAW (raw sockets: spoofed packets, ARP tricks on a
// shared bridge), MKNOD (device nodes; the device cgroup blocks their use, but
// nothing needs them) and AUDIT_WRITE (writes into the host's audit log).

/** Every capability of Linux 5.9+ (linux/capability.h), numbered as the kernel does. */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const

export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID',
  'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
]

const KNOWN = new Set<string>(ALL_CAPS)

/** "net_raw", "NET_RAW", "CAP_NET_RAW" → "CAP_NET_RAW"; "all" → "ALL"; undefined if unknown. */
export function normalizeCap(name: string): string | undefined {
  const u = name.trim().toUpperCase()
  if (u === 'ALL' || u === 'CAP_ALL') return 'ALL'
  const c = u.startsWith('CAP_') ? u : `CAP_${u}`
  return KNOWN.has(c) ? c : undefined
}

/** The effective set for a job, docker's order of operations: drop (ALL empties
 *  the default), then add (ALL adds every capability). Names already normalized. */
export function resolveCaps(add: readonly string[] = [], drop: readonly string[] = []): string[] {
  let caps = drop.includes('ALL') ? [] : DEFAULT_CAPS.filter((c) => !drop.includes(c))
  if (add.includes('ALL')) return [...ALL_CAPS]
  for (const c of add) if (!caps.includes(c)) caps = [...caps, c]
  return caps
}

/** The additions beyond the default set that `allowed` (the daemon's opt-in list,
 *  normalized; "ALL" allows anything) does not cover, in request order. */
export function capsNotAllowed(add: readonly string[], allowed: readonly string[]): string[] {
  if (allowed.includes('ALL')) return []
  return add.filter((c) => !DEFAULT_CAPS.includes(c) && !allowed.includes(c))
}
