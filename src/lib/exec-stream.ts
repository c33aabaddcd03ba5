import { spawn } from 'node:child_process'
import { PassThrough, type Readable } from 'node:stream'
import { SkiffError } from './errors.js'

const TAIL = 4096

/** Streaming sibling of exec(): pipe `input` through the filter command `argv`
 *  (stdin → stdout, e.g. `zstd -dc`) and return its stdout. The returned stream
 *  ends only after the child exited 0, so a truncated or failed run can never
 *  look like a clean end; a non-zero exit destroys it with a SkiffError naming
 *  the command and its stderr tail. Destroying the returned stream kills the
 *  child and destroys `input`; an `input` error kills the child and is passed on. */
export function execFilter(argv: readonly string[], input: Readable, opts: { errorCode?: string; kind?: SkiffError['kind'] } = {}): Readable {
  const [cmd, ...args] = argv
  if (!cmd) throw new SkiffError('internal', 'INTERNAL', 'execFilter: empty argv')
  const out = new PassThrough({ highWaterMark: 256 * 1024 })
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  const err: Buffer[] = []
  let errLen = 0
  let failed = false
  const fail = (e: Error) => {
    if (failed) return
    failed = true
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    input.unpipe(child.stdin)
    if (!input.destroyed) input.destroy()
    out.destroy(e)
  }
  child.stderr.on('data', (b: Buffer) => {
    if (errLen < TAIL * 4) (err.push(b), (errLen += b.length))
  })
  child.on('error', (e) => fail(new SkiffError(opts.kind ?? 'internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: ${e.message}`, { cause: e, detail: { argv } })))
  // The child closing stdin early (it failed) is reported by its exit status, not EPIPE.
  child.stdin.on('error', () => {})
  input.on('error', (e) => fail(e))
  input.pipe(child.stdin)
  child.stdout.pipe(out, { end: false })
  child.on('close', (code, signal) => {
    if (failed) return
    if (code === 0) return void out.end()
    const tail = Buffer.concat(err).toString().trim().slice(-TAIL)
    fail(new SkiffError(opts.kind ?? 'internal', opts.errorCode ?? 'EXEC_FAILED', `${argv.join(' ')}: exited ${code ?? signal}${tail ? `: ${tail}` : ''}`, { detail: { argv, code, signal, stderr: tail } }))
  })
  out.on('close', () => {
    if (!out.writableFinished) fail(new Error('consumer went away'))
  })
  return out
}
