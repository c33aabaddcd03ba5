// docker exec -it over a WebSocket (Kubernetes' exec takes its command the same way:
// a browser's WebSocket has no request body).
//
//   GET /jobs/:id/exec/ws?cmd=sh&cmd=-c&cmd=…&stdin=true&tty=true&rows=R&cols=C&env=K=V&user=U&workdir=/d&timeout=10s
//
// Server → client: {"stream": "stdout"|"stderr", "data": text | "data64": base64} as
// the command writes (with tty=true one stream, stdout: the terminal's, CRLF), then
// {"exit": {exitCode, signal, timedOut}} or {"error": {code, message, field?}} (a
// command not in the container: EXECUTABLE_NOT_FOUND), and the socket closes (1000).
// Client → server, as on /attach: binary messages are raw stdin bytes; text messages
// {"stdin": text} | {"stdin64": base64} | {"eof": true} | {"resize": {rows, cols}};
// stdin=true opens the command's stdin to them (with tty=true it is the terminal).
// Input is written in order and the socket stops reading while the command does not
// read. Closing the socket kills the command. Bad parameters are a 400 before the
// upgrade, naming the parameter; a job not running is 409.
import { isUtf8 } from 'node:buffer'
import type { WebSocket } from 'ws'
import { z } from 'zod'
import { MAX_TIMER_MS } from '../../lib/clock.js'
import { invalidArgument, isSkiffError } from '../../lib/errors.js'
import { parseDuration } from '../../lib/units.js'
import { execSizeProblem, type HostFacts } from '../../runtime/index.js'
import type { ExecOptionsLike, ExecResultLike } from '../../scheduler/index.js'
import { errorBody, toSkiffError } from '../errors.js'

type ExecIo = Parameters<NonNullable<ExecOptionsLike['onStart']>>[0]

export interface ExecWsDeps {
  run(id: string, cmd: string[], opts: ExecOptionsLike): Promise<ExecResultLike>
  host(): HostFacts
}

export interface ExecParams {
  cmd: string[]
  opts: Pick<ExecOptionsLike, 'env' | 'user' | 'cwd' | 'timeoutMs' | 'tty'>
  /** the socket's input goes to the command's stdin (always its terminal with tty) */
  stdin: boolean
}

const KNOWN = new Set(['cmd', 'env', 'user', 'workdir', 'timeout', 'stdin', 'tty', 'rows', 'cols', 'ticket'])
const size = (v: string | null, field: string, dflt: number) => {
  if (v === null) return dflt
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw invalidArgument(field, `expected an integer from 1 to 65535, got ${JSON.stringify(v)}`)
  return Number(v)
}

/** The exec's command and options from the query. Pure; throws INVALID_ARGUMENT naming the parameter. */
export function execParams(q: URLSearchParams, host: HostFacts): ExecParams {
  for (const k of q.keys()) if (!KNOWN.has(k)) throw invalidArgument(k, `unknown parameter (${[...KNOWN].join(', ')})`)
  const cmd = q.getAll('cmd')
  if (!cmd.length || !cmd[0]) throw invalidArgument('cmd', 'required: the command and its arguments, one cmd= each')
  const env: Record<string, string> = {}
  for (const kv of q.getAll('env')) {
    const i = kv.indexOf('=')
    if (i <= 0) throw invalidArgument('env', `expected K=V, got ${JSON.stringify(kv)}`)
    env[kv.slice(0, i)] = kv.slice(i + 1)
  }
  const workdir = q.get('workdir') ?? undefined
  if (workdir !== undefined && !workdir.startsWith('/')) throw invalidArgument('workdir', 'must be an absolute path')
  const timeout = q.get('timeout')
  const timeoutMs = timeout === null ? undefined : parseDuration(timeout, 'timeout')
  if (timeoutMs !== undefined && (timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS)) throw invalidArgument('timeout', `must be between 1ms and ${Math.floor(MAX_TIMER_MS / 1000)}s`)
  const tty = q.get('tty') ?? 'false'
  if (tty !== 'true' && tty !== 'false') throw invalidArgument('tty', 'expected true or false')
  const stdin = q.get('stdin') ?? 'false'
  if (stdin !== 'true' && stdin !== 'false') throw invalidArgument('stdin', 'expected true or false')
  const rows = size(q.get('rows'), 'rows', 24)
  const cols = size(q.get('cols'), 'cols', 80)
  if (tty === 'false' && (q.has('rows') || q.has('cols'))) throw invalidArgument(q.has('rows') ? 'rows' : 'cols', 'only with tty=true')
  const problem = execSizeProblem(cmd, Object.entries(env).map(([k, v]) => `${k}=${v}`), host)
  if (problem) throw problem
  const user = q.get('user') || undefined
  return {
    cmd,
    opts: {
      ...(Object.keys(env).length ? { env } : {}),
      ...(user ? { user } : {}),
      ...(workdir ? { cwd: workdir } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(tty === 'true' ? { tty: { rows, cols } } : {}),
    },
    stdin: stdin === 'true',
  }
}

const Size = z.object({ rows: z.number().int().min(1).max(65535), cols: z.number().int().min(1).max(65535) }).strict()
const InputMsg = z.union([
  z.object({ stdin: z.string() }).strict(),
  z.object({ stdin64: z.base64() }).strict(),
  z.object({ eof: z.literal(true) }).strict(),
  z.object({ resize: Size }).strict(),
])

/** One exec on an upgraded socket: runs it, relays both ways, ends with its exit. */
export function serveExec(ws: WebSocket, jobId: string, p: ExecParams, deps: ExecWsDeps, hwm = 1024 * 1024): void {
  const ac = new AbortController()
  let ended = false
  const send = (o: unknown) => new Promise<void>((r) => (ws.readyState === ws.OPEN ? ws.send(JSON.stringify(o), () => r()) : r()))
  const fail = (e: unknown) => {
    const s = isSkiffError(e) ? e : toSkiffError(e)
    return send(errorBody(s))
  }

  // Input waits for the command to start; after its end it is dropped.
  let started!: (io: ExecIo | undefined) => void
  const io = new Promise<ExecIo | undefined>((r) => (started = r))
  let chain: Promise<unknown> = io
  let pending = 0
  let paused = false
  ws.on('message', (raw, isBinary) => {
    let step: (x: ExecIo) => Promise<void> | void
    let n = 0
    if (isBinary) {
      const data = Buffer.isBuffer(raw) ? raw : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)])
      n = data.length
      step = (x) => x.write(data)
    } else {
      let msg: z.output<typeof InputMsg>
      try {
        msg = InputMsg.parse(JSON.parse(raw.toString()))
      } catch {
        void send({ error: { code: 'INVALID_ARGUMENT', message: 'message: expected binary stdin bytes, {"stdin": text}, {"stdin64": base64}, {"eof": true} or {"resize": {"rows", "cols"}}' } })
        return
      }
      if ('resize' in msg) step = (x) => x.resize(msg.resize.rows, msg.resize.cols)
      else if ('eof' in msg) step = (x) => x.end()
      else {
        const data = 'stdin' in msg ? Buffer.from(msg.stdin) : Buffer.from(msg.stdin64, 'base64')
        n = data.length
        step = (x) => x.write(data)
      }
    }
    pending += n
    if (pending > hwm && !paused) {
      paused = true
      ws.pause()
    }
    chain = chain.then(async () => {
      const x = await io
      try {
        if (x && !ended) await step(x)
      } catch (e) {
        if (!ended) await fail(e)
      } finally {
        pending -= n
        if (paused && pending <= hwm / 4) {
          paused = false
          ws.resume()
        }
      }
    })
  })
  ws.on('close', () => ac.abort())

  void deps
    .run(jobId, p.cmd, {
      ...p.opts,
      signal: ac.signal,
      // without stdin and a terminal the command's stdin is /dev/null, and input is dropped
      ...(p.stdin || p.opts.tty ? { onStart: (x: ExecIo) => started(x) } : {}),
      onOutput: (stream, data) => {
        const sent = send(isUtf8(data) ? { stream, data: data.toString('utf8') } : { stream, data64: data.toString('base64') })
        return ws.bufferedAmount > hwm ? sent : undefined
      },
    })
    .then(
      (r) => send({ exit: { exitCode: r.exitCode, signal: r.signal ?? null, timedOut: !!r.timedOut } }),
      (e) => fail(e),
    )
    .finally(() => {
      ended = true
      started(undefined)
      if (ws.readyState === ws.OPEN) ws.close(1000)
    })
}
