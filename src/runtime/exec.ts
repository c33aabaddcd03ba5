import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { removeFile } from '../lib/remove-tree.js'
import { decodeExit } from './container.js'
import type { OciCli } from './driver.js'
import { createFailed } from './errors.js'
import type { OciProcess } from './oci-spec.js'
import { readInRoot } from './rootfs.js'
import type { ExecOptions, ExecResult } from './types.js'
import { resolveUser } from './user.js'

// docker exec: a new process in a running container, with the container's own
// process settings (capabilities, rlimits, no_new_privs, apparmor…) and only
// argv, env, cwd and user changed. It runs as `<runtime> exec --process FILE`:
// the whole process object from the bundle's config.json, so a user name is
// resolved against the container's /etc/passwd exactly as at create (crun's own
// --user takes only numbers), and `--pid-file` tells us which host pid to kill
// when the exec's timeout passes or its caller goes away.

/** What a buffered exec keeps of each stream. */
export const EXEC_BUFFER_CAP = 16 * 1024 * 1024

export interface ExecDeps {
  id: string
  cli: OciCli
  /** the bundle dir (config.json, where the exec's process file goes) */
  dir: string
  /** the container's rootfs, for its /etc/passwd and /etc/group */
  rootfs: string
}

/** Pure: the exec's process object from the container's. */
export function execProcess(base: OciProcess, cmd: string[], o: ExecOptions, user?: { uid: number; gid: number; additionalGids: number[]; home: string }): OciProcess {
  const env = new Map<string, string>()
  for (const kv of base.env ?? []) {
    const i = kv.indexOf('=')
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1))
  }
  // another user's HOME, unless the caller sets one (runc does the same for a user without HOME)
  if (user) env.set('HOME', user.home)
  for (const [k, v] of Object.entries(o.env ?? {})) env.set(k, v)
  return {
    ...base,
    terminal: false,
    args: cmd,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    cwd: o.cwd ?? base.cwd,
    ...(user ? { user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) } } : {}),
  }
}

export async function execInContainer(d: ExecDeps, cmd: string[], o: ExecOptions = {}): Promise<ExecResult> {
  const config = JSON.parse(await readFile(join(d.dir, 'config.json'), 'utf8')) as { process: OciProcess }
  let user: ReturnType<typeof resolveUser> | undefined
  if (o.user) {
    const [passwd, group] = await Promise.all([readInRoot(d.rootfs, 'etc/passwd'), readInRoot(d.rootfs, 'etc/group')])
    user = resolveUser(o.user, passwd, group)
  }
  const tag = randomBytes(6).toString('hex')
  const processFile = join(d.dir, `exec-${tag}.json`)
  const pidFile = join(d.dir, `exec-${tag}.pid`)
  await writeFile(processFile, JSON.stringify(execProcess(config.process, cmd, o, user)), { mode: 0o600 })
  try {
    return await run(d, cmd, processFile, pidFile, o)
  } finally {
    await Promise.all([removeFile(processFile), removeFile(pidFile)])
  }
}

function run(d: ExecDeps, cmd: string[], processFile: string, pidFile: string, o: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(d.cli.path, [...d.cli.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile, d.id], {
      stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] }
    const size = { stdout: 0, stderr: 0 }
    let truncated = false
    // crun's own failure (no such command) is its last words on stderr; keep a tail for it
    let errTail = ''
    const take = (stream: 'stdout' | 'stderr') => (b: Buffer) => {
      if (stream === 'stderr') errTail = (errTail + b.toString('latin1')).slice(-4096)
      if (o.onOutput) {
        // a slow consumer: stop reading the pipe (the command blocks on a full pipe) until it caught up
        const p = o.onOutput(stream, b)
        if (p) {
          const src = stream === 'stdout' ? child.stdout! : child.stderr!
          src.pause()
          void p.then(() => src.resume(), () => src.resume())
        }
        return
      }
      if (size[stream] + b.length > EXEC_BUFFER_CAP) {
        truncated = true
        b = b.subarray(0, Math.max(0, EXEC_BUFFER_CAP - size[stream]))
      }
      size[stream] += b.length
      if (b.length) kept[stream].push(b)
    }
    child.stdout!.on('data', take('stdout'))
    child.stderr!.on('data', take('stderr'))
    if (o.stdin !== undefined) {
      child.stdin!.on('error', () => {}) // the command may exit without reading it
      child.stdin!.end(o.stdin)
    }

    let timedOut = false
    let stopping = false
    /** Kill the exec'd process (its host pid, from the pid file), then the runtime's exec. */
    const stop = async () => {
      if (stopping) return
      stopping = true
      const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''))
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          /* already gone */
        }
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    const timer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true
          void stop()
        }, o.timeoutMs)
      : undefined
    const onAbort = () => void stop()
    o.signal?.addEventListener('abort', onAbort, { once: true })

    child.on('error', (e) => {
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
      reject(e)
    })
    // The exit, not the close: a background child of the command may hold the pipes
    // open for ever. What it wrote until the exit is read; a short grace for the rest.
    child.on('exit', (code, sig) => {
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
      const finish = () => {
        child.stdout!.destroy()
        child.stderr!.destroy()
        if (code === 255 && !timedOut && !stopping) {
          const e = createFailed(d.id, errTail, cmd[0])
          if (e.code === 'EXECUTABLE_NOT_FOUND' || e.code === 'EXECUTABLE_NOT_RUNNABLE') return reject(e)
        }
        const dec = code === null ? { exitCode: null, signal: sig } : decodeExit(code)
        resolve({
          exitCode: dec.exitCode,
          signal: dec.signal,
          timedOut,
          stdout: Buffer.concat(kept.stdout).toString('utf8'),
          stderr: Buffer.concat(kept.stderr).toString('utf8'),
          ...(truncated ? { truncated } : {}),
        })
      }
      let done = false
      const once = () => {
        if (done) return
        done = true
        clearTimeout(grace)
        finish()
      }
      const grace = setTimeout(once, 200)
      let open = 2
      const closed = () => {
        if (--open === 0) once()
      }
      if (child.stdout!.readableEnded || child.stdout!.destroyed) closed()
      else child.stdout!.once('close', closed)
      if (child.stderr!.readableEnded || child.stderr!.destroyed) closed()
      else child.stderr!.once('close', closed)
    })
  })
}
