// `skiff doctor --store`: is the data dir consistent with its database? Run after
// a crash (kill -9, power loss) and the restart that followed it. It looks for
// what a crash can leave behind: mounts, cgroups, conmon monitors and container
// dirs of jobs that have settled (or that the database does not know), half-
// written blobs and snapshots, jobs the database says are running with no
// monitor alive, and a database that fails `PRAGMA integrity_check`.
// Everything is scoped to this data dir: other daemons' containers on the same
// host are not ours to judge.
import Database from 'better-sqlite3'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ModeFinding } from './data-dir.js'

const SETTLED = new Set(['stopped', 'exited', 'failed', 'killed', 'oom', 'timed_out'])

export interface StoreFacts {
  /** jobs by id with their state, from state.db */
  jobs: Map<string, string>
  integrity: string
  /** runtime/containers/<id> (ids like <job>.<n>) */
  containerDirs: string[]
  /** mount points below the data dir */
  mounts: string[]
  /** container ids that still have a cgroup dir (any hierarchy) */
  cgroups: string[]
  /** container ids with a live conmon monitoring them */
  conmons: string[]
  /** files left in images/ingest and dirs in the snapshotter's tmp */
  partialBlobs: string[]
  partialSnapshots: string[]
}

const jobOf = (containerId: string) => containerId.split('.')[0]!

/** Pure: facts → findings. */
export function evaluateStore(f: StoreFacts, dataDir: string): ModeFinding[] {
  const out: ModeFinding[] = []
  const add = (check: string, bad: string[], what: string, fix: string) =>
    out.push({ check: `store ${check}`, ok: bad.length === 0, severity: 'error', message: bad.length ? `${what}: ${bad.slice(0, 10).join(', ')}${bad.length > 10 ? ` (+${bad.length - 10})` : ''}` : `no ${what}`, ...(bad.length ? { fix } : {}) })
  const live = (cid: string) => {
    const s = f.jobs.get(jobOf(cid))
    return s !== undefined && !SETTLED.has(s)
  }
  out.push({ check: 'store database', ok: f.integrity === 'ok', severity: 'error', message: `integrity_check: ${f.integrity}`, ...(f.integrity === 'ok' ? {} : { fix: 'restore state.db from a backup' }) })
  add('mounts', f.mounts.filter((m) => {
    const cid = /\/runtime\/containers\/([^/]+)\//.exec(m + '/')?.[1]
    return !cid || !live(cid)
  }), 'mounts of settled or unknown jobs', `umount them (findmnt -R ${dataDir})`)
  add('cgroups', f.cgroups.filter((c) => !live(c)), 'cgroups of settled or unknown jobs', 'rmdir them under /sys/fs/cgroup/*/skiff/')
  add('conmon', f.conmons.filter((c) => !live(c)), 'monitors (conmon) of settled or unknown jobs', 'kill them')
  add('containers', f.containerDirs.filter((c) => !live(c) && f.conmons.indexOf(c) < 0), 'container dirs of settled or unknown jobs', 'restart the daemon (it removes them), or rm -rf them')
  add('blobs', f.partialBlobs, 'half-written blobs', 'restart the daemon (it clears images/ingest)')
  add('snapshots', f.partialSnapshots, 'half-unpacked snapshots', 'restart the daemon (it clears the snapshotter tmp dir)')
  const running = [...f.jobs].filter(([, s]) => s === 'running').map(([id]) => id)
  add('jobs', running.filter((id) => !f.conmons.some((c) => jobOf(c) === id)), 'jobs recorded running with no monitor alive', 'restart the daemon (reconciliation records how they ended)')
  return out
}

const ls = (dir: string) => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

export function gatherStore(dataDir: string, cgroupRoot = '/sys/fs/cgroup'): StoreFacts {
  const jobs = new Map<string, string>()
  let integrity = 'no database'
  const dbFile = join(dataDir, 'state.db')
  if (existsSync(dbFile)) {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true })
    try {
      integrity = String(db.pragma('integrity_check', { simple: true }))
      for (const r of db.prepare('SELECT id, state FROM jobs').all() as { id: string; state: string }[]) jobs.set(r.id, r.state)
    } finally {
      db.close()
    }
  }
  const runtime = join(dataDir, 'runtime')
  const containerDirs = ls(join(runtime, 'containers'))
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dataDir + '/'))
  // one cgroup dir per container, under skiff/ in every hierarchy (v2: the root; hybrid/v1: each controller)
  const known = new Set<string>([...containerDirs, ...[...jobs.keys()].flatMap((j) => [j, ...Array.from({ length: 20 }, (_, i) => `${j}.${i + 1}`)])])
  const cgroups = new Set<string>()
  const hierarchies = existsSync(join(cgroupRoot, 'cgroup.controllers')) ? [cgroupRoot] : ls(cgroupRoot).map((c) => join(cgroupRoot, c))
  for (const h of hierarchies) for (const n of ls(join(h, 'skiff'))) if (known.has(n)) cgroups.add(n)
  const conmons: string[] = []
  for (const pid of ls('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    let argv: string[]
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    } catch {
      continue
    }
    if (!argv[0]?.endsWith('conmon') || !argv.some((a) => a.startsWith(runtime + '/'))) continue
    const i = argv.indexOf('-c') >= 0 ? argv.indexOf('-c') : argv.indexOf('--cid')
    if (i >= 0 && argv[i + 1]) conmons.push(argv[i + 1]!)
  }
  return {
    jobs, integrity, containerDirs, mounts, cgroups: [...cgroups], conmons,
    partialBlobs: ls(join(dataDir, 'images', 'ingest')),
    partialSnapshots: ls(join(dataDir, 'images', 'snapshots', 'tmp')),
  }
}

export function storeFindings(dataDir: string): ModeFinding[] {
  return evaluateStore(gatherStore(dataDir), dataDir)
}
