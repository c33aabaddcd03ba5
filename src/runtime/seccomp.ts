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

export function defaultSeccomp(): OciSeccomp {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    syscalls: [
      { names: DENIED, action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    ],
  }
}
