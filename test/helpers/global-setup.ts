import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/** Integration prerequisites. A missing one fails the run with the fix; it never skips. */
export default function setup(): void {
  const problems: string[] = []
  if (process.getuid?.() !== 0) problems.push('integration tests need root (containers, overlayfs, cgroups)')
  for (const bin of ['crun', 'runc', 'conmon', 'docker-registry', 'busybox']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' })
    } catch {
      problems.push(`${bin} not found`)
    }
  }
  if (existsSync('/sys/fs/cgroup/unified') && !existsSync('/sys/fs/cgroup/hugetlb/cgroup.procs'))
    problems.push('hybrid cgroup host without the hugetlb v1 hierarchy (crun refuses it)')
  if (problems.length) throw new Error(`integration prerequisites missing:\n- ${problems.join('\n- ')}\nfix: sudo bash scripts/setup-host`)
}
