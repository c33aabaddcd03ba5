import { spawn, type SpawnOptions } from 'node:child_process'
import { SkiffError } from './errors.js'

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
