import type { Readable } from 'node:stream'
import { spawnDetached } from '../lib/spawn-detached.js'
import { createFailed, monitorMissing } from './errors.js'

export interface MonitorPaths {
  conmon: string
  runtimePath: string
  runtimeArgs: string[]
  bundle: string
  pidFile: string
  conmonPidFile: string
  logPath: string
  exitDir: string
  socketDir: string
  /** extra environment for conmon, which hands its environment to the runtime */
  env?: Record<string, string>
}

/** conmon's command line: one monitor per container that holds its stdio, writes
 *  output to the k8s-file log and the exit code to <exitDir>/<id>, and outlives skiff. */
export function conmonArgs(id: string, p: MonitorPaths, opts: { timeoutSecs?: number; stdin?: boolean; terminal?: boolean } = {}): string[] {
  const args = [
    '--api-version', '1', '-c', id, '-u', id, '-n', id,
    '-r', p.runtimePath, '-b', p.bundle, '-p', p.pidFile, '-P', p.conmonPidFile,
    '-l', `k8s-file:${p.logPath}`, '--exit-dir', p.exitDir, '--socket-dir-path', p.socketDir,
    // conmon's default calls sync(2) for the whole machine after every container: far
    // too slow for short jobs; the log is in the page cache either way, which survives
    // a daemon crash (only power loss could cost the last bytes).
    '--no-sync-log',
    // conmon drops `oom` markers into its persist dir and its cwd: both the bundle
    '--persist-dir', p.bundle,
    '--log-level', 'error',
  ]
  for (const a of p.runtimeArgs) args.push('--runtime-arg', a)
  // A backstop for the job timeout while skiff itself is down; skiff's own timer fires first.
  if (opts.timeoutSecs) args.push('-T', String(opts.timeoutSecs))
  if (opts.stdin) args.push('-i')
  // -t: conmon makes a console socket, hands it to the runtime (--console-socket),
  // receives the pty master and relays it (output to the log as stdout, the attach
  // socket's input to it); resize requests go through <bundle>/ctl
  if (opts.terminal) args.push('-t')
  return args
}

/** Start conmon and wait until the runtime has created the container. conmon
 *  reports on the sync pipe (fd 3): {"data": <pid>} on success, a negative pid
 *  and a message on failure. Without the pipe it would return before `create`. */
export function launchMonitor(id: string, p: MonitorPaths, opts: { timeoutSecs?: number; command?: string; stdin?: boolean; terminal?: boolean } = {}): Promise<number> {
  const started = spawnDetached(p.conmon, conmonArgs(id, p, opts), {
    env: { ...process.env, ...p.env, _OCI_SYNCPIPE: '3' },
    cwd: p.bundle,
    pipeFds: [2, 3],
  })
  return started.then((child) => new Promise((resolve, reject) => {
    const [stderr, sync] = child.pipes as [Readable, Readable]
    let out = ''
    let err = ''
    let settled = false
    stderr.on('data', (b: Buffer) => (err += b.toString()))
    stderr.on('error', () => {})
    sync.on('error', () => {})
    const done = () => {
      settled = true
      sync.removeAllListeners('data')
      sync.destroy()
      stderr.destroy()
    }
    const fail = (why: string) => {
      if (settled) return
      done()
      reject(createFailed(id, why, opts.command))
    }
    // The daemonized conmon keeps the pipe open for later messages: settle on the
    // first complete JSON line, not on end-of-stream.
    sync.on('data', (b: Buffer) => {
      out += b.toString()
      const nl = out.indexOf('\n')
      if (settled || nl < 0) return
      let msg: { data?: number; pid?: number; message?: string } = {}
      try {
        msg = JSON.parse(out.slice(0, nl))
      } catch {
        return fail(`unexpected message from conmon: ${out.slice(0, nl)}`)
      }
      const pid = msg.data ?? msg.pid
      if (typeof pid === 'number' && pid > 0) {
        done()
        resolve(pid)
      } else fail((msg.message ?? err.trim()) || 'conmon reported no pid')
    })
    // stderr may still be draining when the sync pipe ends
    sync.on('end', () => setImmediate(() => fail(err.trim() || 'conmon exited without reporting a pid')))
    child.exited.catch((e: Error) => {
      if (settled) return
      done()
      reject(monitorMissing(p.conmon, e))
    })
  }))
}
