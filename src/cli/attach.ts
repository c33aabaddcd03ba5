import type WebSocket from 'ws'
import type { Client } from './client.js'
import { apiError } from './client.js'
import { SkiffError } from '../lib/errors.js'
import { scanDetach } from './detach-keys.js'

export interface JobExit {
  exitCode: number | null
  signal: string | null
  state: string
  reason?: string | null
}

/** Attach our stdin/stdout/stderr to an interactive job through the WebSocket
 *  /jobs/:id/attach: output as it is written (from the start with `logs`), our
 *  stdin into the job's until it ends (then EOF for the job). Resolves with the
 *  job's exit, or undefined if we detached first. */
export async function attachJob(c: Client, id: string, o: { logs?: boolean; stdin?: boolean; signal?: AbortSignal; tty?: boolean; onDetach?: () => void } = {}): Promise<JobExit | undefined> {
  const ws = await c.websocket(`/jobs/${encodeURIComponent(id)}/attach${o.logs ? '?logs=true' : ''}`)
  const r = await relay<JobExit>(ws, {
    stdin: o.stdin !== false, tty: !!o.tty, signal: o.signal,
    detach: () => {
      process.stderr.write(`\r\nskiff: detached from ${id}; it keeps running (skiff attach ${id})\r\n`)
      o.onDetach?.()
    },
    // an error on this socket is about one input (the socket stays open): said, and attach goes on
    onError: (e) => void process.stderr.write(`skiff: ${e.message}\n`),
  })
  return r.exit
}

export interface ExecEnd {
  exitCode: number | null
  signal: string | null
  timedOut: boolean
}

/** docker exec [-i] [-t] through the WebSocket /jobs/:id/exec/ws: the command's output
 *  as it comes, our stdin into it (with `stdin`), our terminal's size and raw keys
 *  (with `tty` on a terminal). Resolves with its exit; an error that ended it (say
 *  EXECUTABLE_NOT_FOUND) rejects as that error. Ctrl-C, closing the socket, kills it. */
export async function execJob(c: Client, id: string, cmd: string[], o: { stdin: boolean; tty: boolean; env?: Record<string, string>; user?: string; workdir?: string; timeout?: string }): Promise<ExecEnd> {
  const q = new URLSearchParams()
  for (const a of cmd) q.append('cmd', a)
  if (o.stdin) q.set('stdin', 'true')
  if (o.tty) {
    q.set('tty', 'true')
    if (process.stdout.isTTY) q.set('rows', String(process.stdout.rows || 24)), q.set('cols', String(process.stdout.columns || 80))
  }
  for (const [k, v] of Object.entries(o.env ?? {})) q.append('env', `${k}=${v}`)
  if (o.user) q.set('user', o.user)
  if (o.workdir) q.set('workdir', o.workdir)
  if (o.timeout) q.set('timeout', o.timeout)
  const ws = await c.websocket(`/jobs/${encodeURIComponent(id)}/exec/ws?${q}`)
  let failed: SkiffError | undefined
  const r = await relay<ExecEnd>(ws, {
    stdin: o.stdin, tty: o.tty,
    onError: (e) => void (failed = e),
  })
  if (r.exit) return r.exit
  throw failed ?? new SkiffError('unavailable', 'DAEMON_UNREACHABLE', 'the daemon closed the exec before it ended')
}

/** Input the job can no longer take (it ended, its stdin closed): dropped, as a pipe drops it. */
const DROPPED = new Set(['JOB_NOT_RUNNING', 'STDIN_CLOSED'])

/** Our stdio on a job's socket (attach, exec): its output messages to our stdout and
 *  stderr, our stdin to it as binary messages (then {"eof"}); with a tty on our
 *  terminal, raw keystrokes (the job's pty does the echo and the line editing), our
 *  window size and its changes, and — with `detach` — Ctrl-P Ctrl-Q to leave. */
function relay<E>(ws: WebSocket, o: { stdin: boolean; tty: boolean; signal?: AbortSignal; detach?: () => void; onError(e: SkiffError): void }): Promise<{ exit?: E }> {
  return new Promise((resolve, reject) => {
    let exit: E | undefined
    let opened = false
    const input = process.stdin
    const raw = o.tty && o.stdin && input.isTTY === true
    const sizing = o.tty && process.stdout.isTTY === true
    let held = false
    const size = () => ({ resize: { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } })
    const onResize = () => ws.send(JSON.stringify(size()))
    const stopInput = () => {
      input.off('data', onData)
      input.off('end', onEnd)
      input.pause()
      if (raw) input.setRawMode(false)
      if (sizing) process.stdout.off('resize', onResize)
    }
    // A job that reads slowly: stop reading our stdin while the socket is backed up.
    const onData = (chunk: Buffer) => {
      let b = chunk
      if (raw && o.detach) {
        const s = scanDetach(chunk, held)
        held = s.pending
        b = s.forward
        if (s.detach) {
          if (b.length) ws.send(b, { binary: true })
          o.detach()
          return ws.close(1000, 'detach')
        }
        if (!b.length) return
      }
      ws.send(b, { binary: true }, () => {
        if (input.isPaused() && ws.bufferedAmount < 256 * 1024) input.resume()
      })
      if (ws.bufferedAmount > 1024 * 1024) input.pause()
    }
    const onEnd = () => ws.send(JSON.stringify({ eof: true }))
    ws.on('open', () => {
      opened = true
      if (raw) input.setRawMode(true)
      if (sizing) {
        ws.send(JSON.stringify(size()))
        process.stdout.on('resize', onResize)
      }
      if (o.stdin) {
        input.on('data', onData)
        input.on('end', onEnd)
        input.resume()
      }
    })
    ws.on('message', (m, binary) => {
      if (binary) return
      const msg = JSON.parse(m.toString()) as { stream?: string; data?: string; data64?: string; exit?: E; error?: { code: string; message: string; field?: string } }
      if (msg.exit) exit = msg.exit
      else if (msg.error && DROPPED.has(msg.error.code)) return
      else if (msg.error) o.onError(new SkiffError('invalid_argument', msg.error.code, msg.error.message, msg.error.field ? { field: msg.error.field } : {}))
      else if (msg.data !== undefined || msg.data64 !== undefined) {
        const bytes = msg.data64 !== undefined ? Buffer.from(msg.data64, 'base64') : Buffer.from(msg.data!, 'utf8')
        ;(msg.stream === 'stderr' ? process.stderr : process.stdout).write(bytes)
      }
    })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (b: Buffer) => (body += b))
      res.on('end', () => reject(apiError(res.statusCode ?? 500, body)))
    })
    ws.on('error', (e) => {
      if (!opened) reject(new SkiffError('unavailable', 'DAEMON_UNREACHABLE', `cannot attach: ${e.message} (is \`skiff daemon\` running?)`, { cause: e }))
    })
    ws.on('close', () => {
      stopInput()
      if (opened) resolve({ exit })
    })
    o.signal?.addEventListener('abort', () => ws.close(1000, 'detach'), { once: true })
  })
}
