import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Integration prerequisites. A missing one fails the run with the fix; it never skips.
 *  Every temp dir of the run (data dirs, bundles, registries) goes under one run
 *  dir (TMPDIR for the workers), so the teardown can prove the suite left nothing
 *  behind — no monitor, container or mount of its own — without mistaking another
 *  suite's for ours on a shared machine. */
export default function setup(): () => void {
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
  const runDir = mkdtempSync(join(tmpdir(), 'skiff-run-'))
  process.env.TMPDIR = runDir
  return () => {
    const left = leftovers(runDir)
    for (const pid of left.pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    for (const m of left.mounts.reverse()) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' })
      } catch {
        /* gone */
      }
    }
    for (const cg of left.cgroups) {
      for (let i = 0; i < 50 && existsSync(cg); i++) {
        try {
          rmdirSync(cg)
        } catch {
          execFileSync('sleep', ['0.1'])
        }
      }
    }
    rmSync(runDir, { recursive: true, force: true })
    if (left.what.length)
      throw new Error(`the suite left behind ${left.pids.length} processes, ${left.mounts.length} mounts and ${left.cgroups.length} cgroups of its own (now removed):\n${left.what.join('\n')}`)
  }
}

/** Processes (monitors, runtimes, containers, daemons) and mounts that belong to the run dir. */
function leftovers(runDir: string): { pids: number[]; mounts: string[]; cgroups: string[]; what: string[] } {
  const pids: number[] = []
  const cgroups: string[] = []
  const what: string[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    let cmd = ''
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ')
    } catch {
      continue
    }
    if (cmd.includes(runDir + '/')) {
      pids.push(Number(p))
      what.push(`pid ${p}: ${cmd.slice(0, 200)}`)
    }
  }
  // a container's own processes name nothing of ours: find them by their cgroups
  for (const id of containerIds(runDir, 4)) {
    for (const cg of cgroupDirsOf(id)) {
      cgroups.push(cg)
      what.push(`cgroup ${cg}`)
      const procs = readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
      for (const pid of procs) if (!pids.includes(pid)) (pids.push(pid), what.push(`pid ${pid} in ${cg}`))
    }
  }
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(runDir + '/'))
  what.push(...mounts.map((m) => `mount ${m}`))
  return { pids, mounts, cgroups, what }
}

/** Ids of the containers any runtime root under `dir` has (…/containers/<id>). */
function containerIds(dir: string, depth: number): string[] {
  if (depth < 0) return []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  if (dir.endsWith('/containers')) return names
  return names.flatMap((n) => containerIds(join(dir, n), depth - 1))
}

/** The cgroup dirs of container `id` that exist (v1 controllers, hybrid's unified, pure v2). */
function cgroupDirsOf(id: string): string[] {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c))
  return roots.map((r) => join(r, 'skiff', id)).filter((d) => existsSync(join(d, 'cgroup.procs')))
}
