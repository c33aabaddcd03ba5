import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { ReadStream } from 'node:tty'
import { SkiffError } from '../lib/errors.js'
import { nativeWith } from '../lib/native.js'
import { removeFile } from '../lib/remove-tree.js'
import { decodeExit } from './container.js'
import type { OciCli } from './driver.js'
import { createFailed, notATerminal } from './errors.js'
import { CappedOutput, Relay, relayPaced } from './exec-output.js'
import type { OciProcess } from './oci-spec.js'
import { readInRoot } from './rootfs.js'
import type { ExecIo, ExecOptions, ExecResult } from './types.js'
import { resolveUser } from './user.js'

// docker exec: a new process in a running container, with the container's own
// process settings (capabilities, rlimits, no_new_privs, apparmor…) and only
// argv, env, cwd and user changed. It runs as `<runtime> exec --process FILE`:
// the whole process object from the bundle's config.json, so a user name is
// resolved against the container's /etc/passwd exactly as at create (crun's own
// --user takes only numbers), and `--pid-file` tells us which host pid to kill
// when the exec's timeout passes or its caller goes away.
//
// With a terminal (docker exec -t) it is `<runtime> exec --tty --console-socket S`:
// the runtime makes the pty inside the container, sends its master over S (taken by
// the addon: Node cannot receive an fd) and waits for the command as without one.
// The master is read and written here; its size is set with TIOCSWINSZ.

export { EXEC_BUFFER_CAP } from './exec-output.js'

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
    terminal: !!o.tty,
    ...(o.tty ? { consoleSize: { height: o.tty.rows, width: o.tty.cols } } : { consoleSize: undefined }),
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
  const consoleSocket = join(d.dir, `exec-${tag}.sock`)
  await writeFile(processFile, JSON.stringify(execProcess(config.process, cmd, o, user)), { mode: 0o600 })
  try {
    return await (o.tty ? runTty(d, cmd, processFile, pidFile, consoleSocket, o) : run(d, cmd, processFile, pidFile, o))
  } finally {
    await Promise.all([removeFile(processFile), removeFile(pidFile), ...(o.tty ? [removeFile(consoleSocket)] : [])])
  }
}

/** How long the runtime may take to send the pty master once it runs. */
const CONSOLE_TIMEOUT_MS = 60_000

/** Kill the exec'd process (its host pid, from the pid file), then the runtime's exec. */
function stopper(child: ChildProcess, pidFile: string): () => Promise<void> {
  let stopping = false
  return async () => {
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
}

/** The exec's deadline (`o.timeoutMs`) and its caller's abort (`o.signal`), both of which
 *  stop it (`stopper`); both are disarmed when the runtime's process exits (this listener
 *  runs before the caller's own 'exit' one) or cannot be spawned (then `reject`). */
function stopOnTimeoutOrAbort(child: ChildProcess, pidFile: string, o: ExecOptions, reject: (e: Error) => void): { timedOut(): boolean; aborted(): boolean } {
  const stop = stopper(child, pidFile)
  let timedOut = false
  let aborted = false
  const timer = o.timeoutMs
    ? setTimeout(() => {
        timedOut = true
        void stop()
      }, o.timeoutMs)
    : undefined
  const onAbort = () => {
    aborted = true
    void stop()
  }
  o.signal?.addEventListener('abort', onAbort, { once: true })
  const settle = () => {
    clearTimeout(timer)
    o.signal?.removeEventListener('abort', onAbort)
  }
  child.on('error', (e) => {
    settle()
    reject(e)
  })
  child.on('exit', settle)
  return { timedOut: () => timedOut, aborted: () => aborted }
}

/** docker exec -t: the command on a pty whose master we hold; output (one stream,
 *  stdout) until the runtime's exit and the master's EOF (EIO once every slave fd
 *  is closed), with a short grace for a background child that keeps the slave. */
function runTty(d: ExecDeps, cmd: string[], processFile: string, pidFile: string, consoleSocket: string, o: ExecOptions): Promise<ExecResult> {
  const sys = nativeWith('console')
  if (!sys?.consoleReceive || !sys.setWinsize) {
    return Promise.reject(new SkiffError('failed_precondition', 'TTY_UNAVAILABLE', 'exec with a terminal needs the native addon with console support (rebuild native/: npm rebuild or node-gyp rebuild)', { field: 'tty' }))
  }
  const master = sys.consoleReceive(consoleSocket, CONSOLE_TIMEOUT_MS)
  return new Promise((resolve, reject) => {
    const child = spawn(d.cli.path, [...d.cli.globalArgs(), 'exec', '--tty', '--console-socket', consoleSocket, '--process', processFile, '--pid-file', pidFile, d.id], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let errTail = ''
    let outTail = ''
    child.stderr!.on('data', (b: Buffer) => (errTail = (errTail + b.toString('latin1')).slice(-4096)))
    const kept = new CappedOutput()
    const relay = o.onOutput && new Relay(o.onOutput)
    let tty: ReadStream | undefined
    let ttyClosed: Promise<void> = Promise.resolve()
    const ends = stopOnTimeoutOrAbort(child, pidFile, o, reject)

    master.then(
      (fd) => {
        const t = (tty = new ReadStream(fd))
        ttyClosed = new Promise((r) => t.once('close', () => r()))
        // EIO: every slave fd is closed (the command ended); Node reads it as an error
        t.on('error', () => {})
        t.on('data', (b: Buffer) => {
          // the runtime's own failure (no such command) is written to the terminal
          outTail = (outTail + b.toString('latin1')).slice(-4096)
          if (relay) relayPaced(relay, 'stdout', b, t)
          else kept.push(b)
        })
        const io: ExecIo = {
          write: (data) => new Promise<void>((res, rej) => {
            if (t.destroyed) return rej(new SkiffError('conflict', 'STDIN_CLOSED', `the exec in ${d.id} has ended`))
            t.write(data, (e) => (e ? rej(e) : res()))
          }),
          // what a terminal sends for EOF (VEOF): the line discipline turns it into an EOF read
          end: () => void (!t.destroyed && t.write(Buffer.from([4]))),
          resize: (rows, cols) => {
            if (!t.destroyed) sys.setWinsize!(fd, rows, cols)
          },
        }
        o.onStart?.(io)
      },
      () => {}, // the runtime exited before it sent one: its exit says why
    )

    child.on('exit', (code, sig) => {
      const timedOut = ends.timedOut()
      // still waiting for a connection: wake the addon's thread (a connection without an fd)
      if (!tty) connect(consoleSocket).on('error', () => {}).on('connect', function (this: import('node:net').Socket) {
        this.destroy()
      })
      void master.catch(() => {}).then(async () => {
        const grace = new Promise<void>((r) => setTimeout(r, 200).unref())
        await Promise.race([ttyClosed, grace])
        tty?.destroy()
        if (code === 255 && !timedOut) {
          const e = createFailed(d.id, errTail.trim() ? errTail : outTail, cmd[0])
          if (e.code === 'EXECUTABLE_NOT_FOUND' || e.code === 'EXECUTABLE_NOT_RUNNABLE') return relay?.drop(), reject(e)
        }
        await relay?.flush()
        const dec = code === null ? { exitCode: null, signal: sig } : decodeExit(code)
        resolve({ exitCode: dec.exitCode, signal: dec.signal, timedOut, stdout: kept.text(), stderr: '', ...(kept.truncated ? { truncated: true } : {}) })
      })
    })
  })
}

function run(d: ExecDeps, cmd: string[], processFile: string, pidFile: string, o: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(d.cli.path, [...d.cli.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile, d.id], {
      stdio: [o.stdin === undefined && !o.onStart ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    const kept = { stdout: new CappedOutput(), stderr: new CappedOutput() }
    // crun's own failure (no such command) is its last words on stderr; keep a tail for it
    let errTail = ''
    const relay = o.onOutput && new Relay(o.onOutput)
    const take = (stream: 'stdout' | 'stderr') => (b: Buffer) => {
      if (stream === 'stderr') errTail = (errTail + b.toString('latin1')).slice(-4096)
      if (relay) relayPaced(relay, stream, b, stream === 'stdout' ? child.stdout! : child.stderr!)
      else kept[stream].push(b)
    }
    child.stdout!.on('data', take('stdout'))
    child.stderr!.on('data', take('stderr'))
    if (o.onStart) {
      const w = child.stdin!
      w.on('error', () => {}) // the command may exit without reading it
      o.onStart({
        write: (data) => new Promise<void>((res, rej) => {
          if (w.destroyed || w.writableEnded) return rej(new SkiffError('conflict', 'STDIN_CLOSED', `stdin of the exec in ${d.id} is closed`))
          w.write(data, (e) => (e ? rej(e) : res()))
        }),
        end: () => void w.end(),
        resize: () => {
          throw notATerminal(d.id)
        },
      })
    } else if (o.stdin !== undefined) {
      child.stdin!.on('error', () => {}) // the command may exit without reading it
      child.stdin!.end(o.stdin)
    }

    const ends = stopOnTimeoutOrAbort(child, pidFile, o, reject)

    // The exit, not the close: a background child of the command may hold the pipes
    // open for ever. What it wrote until the exit is read; a short grace for the rest.
    child.on('exit', (code, sig) => {
      const timedOut = ends.timedOut()
      const finish = () => {
        child.stdout!.destroy()
        child.stderr!.destroy()
        if (code === 255 && !timedOut && !ends.aborted()) {
          const e = createFailed(d.id, errTail, cmd[0])
          if (e.code === 'EXECUTABLE_NOT_FOUND' || e.code === 'EXECUTABLE_NOT_RUNNABLE') return relay?.drop(), reject(e)
        }
        void relay?.flush()
        const dec = code === null ? { exitCode: null, signal: sig } : decodeExit(code)
        resolve({
          exitCode: dec.exitCode,
          signal: dec.signal,
          timedOut,
          stdout: kept.stdout.text(),
          stderr: kept.stderr.text(),
          ...(kept.stdout.truncated || kept.stderr.truncated ? { truncated: true } : {}),
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
