import type { OciSeccomp } from './oci-spec.js'

// A deny-list profile in the spirit of docker's default (moby profiles/seccomp/
// default.json): allow by default, refuse with EPERM the syscalls that reach
// kernel surfaces a job has no business with. Docker's profile is an allow-list
// of ~350 names gated by capabilities; a deny-list of the dangerous ones is the
// same protection for the default capability set and far easier to audit.
const DENIED = [
  // kernel modules, kexec, reboot
  'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'reboot',
  // filesystems and namespaces (need CAP_SYS_ADMIN, which jobs do not get; belt and braces)
  'mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
  'setns', 'unshare',
  // kernel keyring, bpf, perf, userfaultfd, handle-based open (CVE-2014-3519 "shocker")
  'add_key', 'request_key', 'keyctl', 'bpf', 'perf_event_open', 'userfaultfd', 'open_by_handle_at', 'name_to_handle_at',
  // process tracing and cross-process memory access
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd',
  // clocks, swap, accounting, quotas, personality tricks, old/obsolete syscalls
  'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'stime', 'swapon', 'swapoff', 'acct', 'quotactl', 'quotactl_fd',
  'lookup_dcookie', 'nfsservctl', 'uselib', 'ustat', 'sysfs', '_sysctl', 'vm86', 'vm86old', 'iopl', 'ioperm',
  'create_module', 'get_kernel_syms', 'query_module', 'syslog', 'vhangup', 'io_uring_setup', 'io_uring_enter', 'io_uring_register',
]

// docker's profile opens these again for a container granted the capability
// (moby profiles/seccomp/default.json "includes": {"caps": [...]}): a cap_add
// that seccomp silently undid would be a lie.
const BY_CAP: Record<string, string[]> = {
  CAP_SYS_ADMIN: ['mount', 'umount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr', 'setns', 'unshare', 'quotactl', 'quotactl_fd', 'lookup_dcookie', 'name_to_handle_at'],
  CAP_SYS_PTRACE: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_getfd'],
  CAP_SYS_TIME: ['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'stime'],
  CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYSLOG: ['syslog'],
  CAP_SYS_PACCT: ['acct'],
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
}

/** The profile for a job with these capabilities (the default set: every name in DENIED refused). */
export function defaultSeccomp(caps: readonly string[] = []): OciSeccomp {
  const open = new Set(caps.flatMap((c) => BY_CAP[c] ?? []))
  const denied = open.size ? DENIED.filter((n) => !open.has(n)) : DENIED
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    syscalls: [
      { names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  }
}
