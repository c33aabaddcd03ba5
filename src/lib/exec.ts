import { spawn, type SpawnOptions } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Socket } from 'node:net'
import { constants } from 'node:os'
import { SkiffError } from './errors.js'
import { nativeWith } from './native.js'

export interface ExecResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface ExecOptions {
  input?: string | Uint8Array
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
  /** Resolve with a non-zero code instead of throwing. */
  allowFailure?: boolean
  /** Error code used when the command fails. */
  errorCode?: string
  signal?: AbortSignal
}

const TAIL = 4096

/** Run argv (no shell) and collect its output. Fails with a SkiffError naming
 *  the command and the tail of its stderr: the one place a child's failure is
 *  turned into an error, so every message has the same shape. */
export function exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv
  if (!cmd) throw new SkiffError('internal', 'INTERNAL', 'exec: empty argv')
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: opts.env, cwd: opts.cwd, signal: opts.signal }
    const child = spawn(cmd, args, so)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout!.on('data', (b: Buffer) => out.push(b))
    child.stderr!.on('data', (b: Buffer) => err.push(b))
    let timer: NodeJS.Timeout | undefined
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new SkiffError('internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: ${e.message}`, { cause: e, detail: { argv } }))
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const r = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }
      if (code === 0 || opts.allowFailure) return resolve(r)
      const tail = r.stderr.trim().slice(-TAIL) || r.stdout.trim().slice(-TAIL)
      reject(
        new SkiffError('internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: exited ${code ?? signal}${tail ? `: ${tail}` : ''}`, {
          detail: { argv, code, signal, stderr: tail },
        }),
      )
    })
  })
}

/** exec() through posix_spawn on the thread pool when the addon can (lib/native.ts:
 *  Node's spawn forks the whole daemon), stdin from a file: for children on a job's
 *  start path, e.g. CNI plugins. Same result and error shape as exec(). */
export async function execPooled(argv: readonly string[], opts: { env: NodeJS.ProcessEnv; stdinPath: string; timeoutMs?: number; errorCode?: string; allowFailure?: boolean }): Promise<ExecResult> {
  const sys = nativeWith('spawn-stdin')
  if (!sys) return exec(argv, { env: opts.env, input: readFileSync(opts.stdinPath), timeoutMs: opts.timeoutMs, errorCode: opts.errorCode, allowFailure: opts.allowFailure })
  const [cmd] = argv
  if (!cmd) throw new SkiffError('internal', 'INTERNAL', 'exec: empty argv')
  const envp = Object.entries(opts.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]))
  let r: { pid: number; fds: number[] }
  try {
    r = await sys.spawn(cmd, [...argv], envp, null, [1, 2], opts.stdinPath)
  } catch (e) {
    throw new SkiffError('internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: ${(e as Error).message}`, { cause: e, detail: { argv } })
  }
  const read = (fd: number) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = []
      const s = new Socket({ fd, readable: true, writable: false })
      s.on('data', (b: Buffer) => chunks.push(b))
      s.on('error', () => {})
      s.on('close', () => resolve(Buffer.concat(chunks).toString()))
    })
  const timer = opts.timeoutMs ? setTimeout(() => process.kill(r.pid, 'SIGKILL'), opts.timeoutMs) : undefined
  const [stdout, stderr, status] = await Promise.all([read(r.fds[0]!), read(r.fds[1]!), sys.waitpid(r.pid)])
  clearTimeout(timer)
  const signal = status > 128 ? ((Object.entries(constants.signals).find(([, n]) => n === status - 128)?.[0] as NodeJS.Signals | undefined) ?? null) : null
  const res: ExecResult = { code: signal ? null : status, signal, stdout, stderr }
  if (status === 0 || opts.allowFailure) return res
  const tail = stderr.trim().slice(-TAIL) || stdout.trim().slice(-TAIL)
  throw new SkiffError('internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: exited ${res.code ?? signal}${tail ? `: ${tail}` : ''}`, {
    detail: { argv, code: res.code, signal, stderr: tail, stdout: stdout.slice(-TAIL) },
  })
}
