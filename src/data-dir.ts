// The daemon's data dir: who may read it, and who owns it.
//
// Everything secret lives here: the API token (as good as root on the host),
// state.db and its WAL (every job's env, where people put credentials), the
// jobs' logs, bundles with config.json (env again). The defence is the data
// dir's own mode, 0700 root: nobody else can even look up a name inside it.
// The files inside are tightened too (0600 / 0700), so a data dir someone
// chmods open by mistake still leaks nothing. The API socket lives outside
// (/run/skiff, 0660): a group that may drive the daemon needs no access here.
//
// One daemon per data dir: an flock(2) on <dir>/skiff.lock (native addon),
// held for the life of the process and dropped by the kernel when it dies.
import { closeSync, constants, existsSync, fchmodSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync, writeSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { SkiffError } from './lib/errors.js'
import { nativeSys } from './lib/native.js'

/** A path and the permission bits it may have at most (anything else is too open). */
export interface ModeRule {
  path: string
  kind: 'dir' | 'file'
  /** permission bits allowed (e.g. 0o600: nothing for group and others) */
  max: number
  /** what to create it with / repair it to */
  want: number
  what: string
}

export const DATA_DIR_MODE = 0o700
export const SECRET_FILE_MODE = 0o600
/** A daemon log file: 0600, or 0640 for an adm-style group of log readers. */
export const DAEMON_LOG_MAX = 0o640

/** Pure: the paths of a data dir that hold secrets, with their modes. */
export function dataDirRules(dir: string): ModeRule[] {
  const f = (name: string, what: string): ModeRule => ({ path: join(dir, name), kind: 'file', max: SECRET_FILE_MODE, want: SECRET_FILE_MODE, what })
  const d = (name: string, what: string): ModeRule => ({ path: join(dir, name), kind: 'dir', max: DATA_DIR_MODE, want: DATA_DIR_MODE, what })
  return [
    { path: dir, kind: 'dir', max: DATA_DIR_MODE, want: DATA_DIR_MODE, what: 'data dir' },
    f('token', 'API token'),
    f('state.db', 'state database (job env)'),
    f('state.db-wal', 'state database WAL (job env)'),
    f('state.db-shm', 'state database shared memory'),
    d('logs', 'job logs'),
    d('runtime', 'bundles (job env in config.json)'),
    d('images', 'image store'),
  ]
}

/** Pure: permission bits beyond what the rule allows (0 = fine). */
export const excessBits = (mode: number, max: number) => mode & 0o7777 & ~max

export interface ModeFinding {
  check: string
  ok: boolean
  severity: 'error' | 'warn'
  message: string
  fix?: string
}

/** Pure: one finding per rule from what stat saw (undefined: the path is absent, fine). */
export function modeFindings(rules: ModeRule[], seen: (path: string) => { mode: number; isDir: boolean; uid: number } | undefined): ModeFinding[] {
  const out: ModeFinding[] = []
  for (const r of rules) {
    const st = seen(r.path)
    if (!st) continue
    const extra = excessBits(st.mode, r.max)
    const octal = (n: number) => '0' + (n & 0o7777).toString(8)
    const ok = extra === 0 && st.uid === 0
    out.push({
      check: `mode ${r.path}`,
      ok,
      severity: 'error',
      message: ok
        ? `${r.what}: ${octal(st.mode)}`
        : st.uid !== 0
          ? `${r.what} ${r.path} is owned by uid ${st.uid}, not root`
          : `${r.what} ${r.path} is ${octal(st.mode)}: readable by others (at most ${octal(r.max)})`,
      ...(ok ? {} : { fix: st.uid !== 0 ? `chown root: ${r.path} && chmod ${octal(r.want)} ${r.path}` : `chmod ${octal(r.want)} ${r.path}  (the daemon also repairs it at start)` }),
    })
  }
  return out
}

function statOf(p: string): { mode: number; isDir: boolean; uid: number } | undefined {
  try {
    const st = lstatSync(p)
    return { mode: st.mode, isDir: st.isDirectory(), uid: st.uid }
  } catch {
    return undefined
  }
}

/**
 * Create the data dir 0700 and tighten every secret-holding path found looser
 * than its rule (a data dir made by an older skiff, or chmod'ed by hand):
 * each repair is reported through `warn`. Job log dirs are tightened too.
 */
export function secureDataDir(dir: string, warn: (msg: string, detail: Record<string, unknown>) => void): void {
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE })
  const rules = dataDirRules(dir)
  // created here, 0700, before any layer makes them with its own (umask) mode
  for (const r of rules) if (r.kind === 'dir') mkdirSync(r.path, { recursive: true, mode: r.want })
  const logsDir = join(dir, 'logs')
  if (existsSync(logsDir)) {
    for (const n of readdirSync(logsDir)) {
      rules.push({ path: join(logsDir, n), kind: 'dir', max: DATA_DIR_MODE, want: DATA_DIR_MODE, what: 'job log dir' })
      rules.push({ path: join(logsDir, n, 'container.log'), kind: 'file', max: SECRET_FILE_MODE, want: SECRET_FILE_MODE, what: 'job log' })
    }
  }
  for (const r of rules) {
    const st = statOf(r.path)
    // a symlink is not ours to chmod through
    if (!st || (r.kind === 'dir') !== st.isDir) continue
    if (excessBits(st.mode, r.max) === 0) continue
    chmodSync(r.path, r.want)
    warn(`${r.what} was readable by others: repaired`, { path: r.path, was: '0' + (st.mode & 0o7777).toString(8), now: '0' + r.want.toString(8) })
  }
}

/** Before opening the database: create it 0600 (SQLite gives its -wal and -shm
 *  the database file's mode) and tighten any of the three found looser. */
export function secureDbFiles(dbFile: string): void {
  closeSync(openSync(dbFile, constants.O_RDWR | constants.O_CREAT, SECRET_FILE_MODE))
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
    const st = statOf(f)
    if (st && excessBits(st.mode, SECRET_FILE_MODE)) chmodSync(f, SECRET_FILE_MODE)
  }
}

/** Our stdout/stderr, when they are a regular file (scripts/setup's daemon log):
 *  tightened to 0600 if group/others could read them. Returns what was repaired. */
export function secureOwnLogFiles(fds = [1, 2]): { fd: number; was: number }[] {
  const fixed: { fd: number; was: number }[] = []
  for (const fd of fds) {
    try {
      const st = fstatSync(fd)
      if (!st.isFile() || excessBits(st.mode, DAEMON_LOG_MAX) === 0) continue
      fchmodSync(fd, SECRET_FILE_MODE)
      fixed.push({ fd, was: st.mode & 0o7777 })
    } catch {
      /* closed or not ours */
    }
  }
  return fixed
}

/** For `skiff doctor`: the running daemon's log files (its stdout/stderr when
 *  they are regular files), found through the pid in the lock file. */
export function daemonLogRules(dir: string): ModeRule[] {
  const owner = ownerOf(join(dir, LOCK_FILE))
  if (!owner || !isAlive(owner.pid, owner.start)) return []
  const pid = owner.pid
  const out: ModeRule[] = []
  const seen = new Set<string>()
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (!target.startsWith('/') || seen.has(target) || !statSync(target).isFile()) continue
      seen.add(target)
      out.push({ path: target, kind: 'file', max: DAEMON_LOG_MAX, want: SECRET_FILE_MODE, what: 'daemon log' })
    } catch {
      /* not running, or not a file */
    }
  }
  return out
}

/** `skiff doctor`: the data dir, its secrets and the running daemon's log. */
export function dataDirFindings(dir: string): ModeFinding[] {
  if (!existsSync(dir)) return [{ check: 'data dir', ok: true, severity: 'warn', message: `${dir} does not exist yet (created 0700 at the daemon's first start)` }]
  const rules = [...dataDirRules(dir), ...daemonLogRules(dir)]
  return modeFindings(rules, statOf)
}

// ---- the lock -----------------------------------------------------------------

export const LOCK_FILE = 'skiff.lock'

/**
 * Take the data dir for this process, or throw DATA_DIR_LOCKED naming the owner.
 * With the addon: flock(2), atomic, released by the kernel at exit (also on
 * kill -9). Without it: exclusive creation of the lock file (link(2) of a
 * complete stamp, so no reader ever sees it empty), and a lock whose pid
 * is gone (or reused: the start time in /proc differs) counts as released.
 * The file holds "<pid> <starttime>" for humans and for `skiff doctor`.
 */
export function lockDataDir(dir: string, opts: { native?: boolean } = {}): () => void {
  const file = join(dir, LOCK_FILE)
  const sys = opts.native === false ? undefined : nativeSys()
  const stamp = `${process.pid} ${startTime(process.pid) ?? 0}\n`
  if (sys?.flockExclusive) {
    // O_CLOEXEC (libuv's default): no child (conmon outlives us) may inherit the lock
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, SECRET_FILE_MODE)
    try {
      sys.flockExclusive(fd)
    } catch (e) {
      closeSync(fd)
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') throw locked(dir, ownerOf(file))
      throw e
    }
    // a live daemon that took the lock without the addon (O_EXCL mode) holds no flock
    const prev = ownerOf(file)
    if (prev && prev.pid !== process.pid && isAlive(prev.pid, prev.start) && isSkiff(prev.pid)) {
      closeSync(fd)
      throw locked(dir, prev)
    }
    // ours now: rewrite the stamp in place (a truncate would race a reader)
    const b = Buffer.from(stamp.padEnd(32, ' '))
    writeSync(fd, b, 0, b.length, 0)
    // Never unlinked: a daemon that opened the old file just before an unlink
    // would lock an orphaned inode while a third one locks the new file.
    return () => closeSync(fd)
  }
  // The stamp is complete before the lock file exists: written to a private
  // file, then link(2)ed into place, which fails with EEXIST atomically.
  const tmp = `${file}.${process.pid}`
  writeFileSync(tmp, stamp, { mode: SECRET_FILE_MODE })
  try {
    for (let tries = 0; ; tries++) {
      try {
        linkSync(tmp, file)
        return () => rmSync(file, { force: true })
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 3) throw e
      }
      const owner = ownerOf(file)
      // unreadable content is someone's lock, not ours to break
      if (!owner || isAlive(owner.pid, owner.start)) throw locked(dir, owner)
      // stale (its daemon died): remove and retry. Two daemons taking over the
      // same stale lock at the same instant can both get here; the addon's flock
      // has no such window, which is why it is the default.
      rmSync(file, { force: true })
    }
  } finally {
    rmSync(tmp, { force: true })
  }
}

const locked = (dir: string, owner: { pid: number } | undefined) =>
  new SkiffError('conflict', 'DATA_DIR_LOCKED', `data dir ${dir} is in use by another skiff daemon${owner ? ` (pid ${owner.pid})` : ''}`)

function ownerOf(file: string): { pid: number; start: number } | undefined {
  try {
    const [pid, start] = readFileSync(file, 'utf8').trim().split(/\s+/).map(Number)
    return pid ? { pid, start: start ?? 0 } : undefined
  } catch {
    return undefined
  }
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. */
function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  } catch {
    return undefined
  }
}

/** A node process (skiff is one): a stale stamp whose pid was reused by something else is no lock. */
function isSkiff(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')
  } catch {
    return false
  }
}

function isAlive(pid: number, start: number): boolean {
  const now = startTime(pid)
  return now !== undefined && (!start || now === start)
}
