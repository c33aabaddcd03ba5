// WebSocket log following.
//
//   GET /jobs/:id/logs/ws?from=<offset>&stream=stdout|stderr|all&format=json|binary   one job
//   GET /ws?format=json|binary                                                        multiplexed
//       client → {"subscribe": "<job>", "from": <offset>, "stream"?: "..."} | {"unsubscribe": "<job>"}
//
// format=json (default): text frames, one JSON object each (the same shape as
// an NDJSON line of GET /jobs/:id/logs, see WireRecord): {job?, offset, stream,
// time, data | data64, dropped?}; adjacent records of one stream are merged up
// to 256 KiB per message.
//
// format=binary: each output record is ONE binary message (no base64, no JSON),
// adjacent records of one stream merged up to 256 KiB, little-endian
// (src/logs/frame.ts has encodeFrame/decodeFrame):
//   byte 0 u8 version = 1 | byte 1 u8 stream (1 stdout, 2 stderr) | byte 2 u8 J =
//   job id length (0 on /jobs/:id/logs/ws) | byte 3 u8 reserved 0 |
//   bytes 4–11 f64 offset of the first data byte | bytes 12–19 f64 time (ms since
//   epoch) | J bytes job id (UTF-8, multiplexed only) | the raw data.
// Everything else stays a JSON text message in both formats: retention markers
// {job?, offset, stream, time, data: "", dropped}, the exit, errors.
//
// Both formats: then {job?, exit: {exitCode, signal, state}} once the job has
// exited and every byte was sent (the single-job socket then closes with 1000).
// Errors: {job?, error: {code, message}}. A client resumes by reconnecting with
// from = offset + data length of the last record it got (exact: no gap, no dup).
// Backpressure: bytes handed to the socket but not yet flushed to the kernel
// are counted; above the high-water mark the follower stops reading the file
// (it falls behind on disk; daemon memory stays bounded). Pings every 20 s keep
// idle follows alive through proxies and reap dead peers.
// Auth: deps.authorize(req) (Authorization: Bearer, or a single-use ticket from
// POST /auth/tickets as ?ticket= or Sec-WebSocket-Protocol `ticket.<t>`; never
// the token in the URL); otherwise 401 before the upgrade.
//
//   GET /jobs/:id/attach?from=<offset>&logs=true&stream=…&format=json|binary
// An interactive job's output (as above; from the current end of the log unless
// `from` is given, or from 0 with logs=true) plus its stdin: binary messages are
// raw stdin bytes; text messages are {"stdin": "text"} | {"stdin64": "base64"} |
// {"eof": true} (close stdin). Input is written in order; while the job is not
// reading, the socket stops reading too (bounded daemon memory). Errors arrive as
// {error: {code, message}}; the socket stays open. 409 before the upgrade when
// the job was not run with "interactive": true, or has ended and logs=true is not
// asked (with it, an ended job's output and exit are sent and input is dropped).
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { z } from 'zod'
import { isSkiffError } from '../../lib/errors.js'
import { encodeFrame, frameHeader } from '../../logs/index.js'
import type { LogRecord } from '../../logs/index.js'
import { isFinal, notRunning, stdinNotOpen, type JobState } from '../../scheduler/index.js'
import { STATUS, toSkiffError } from '../errors.js'
import { encodeWire, jobNotFound, selectRecords, type LogsRouteDeps } from './logs.js'
import { execParams, serveExec, type ExecParams, type ExecWsDeps } from './exec-ws.js'

export interface LogsWsOptions {
  authorize(req: IncomingMessage): boolean
  /** Keepalive ping interval (default 20 s). */
  pingMs?: number
  /** Stop reading from disk while more than this many bytes wait in the socket (default 1 MiB). */
  highWaterMark?: number
  /** An interactive job's stdin (JobService.writeStdin/closeStdin); without it /attach is 404. */
  stdin?: { write(id: string, data: Uint8Array): Promise<void>; close(id: string): Promise<void>; resize?(id: string, rows: number, cols: number): Promise<void> }
  /** docker exec -it (exec-ws.ts); without it /jobs/:id/exec/ws is 404 */
  exec?: ExecWsDeps
}

type Format = 'json' | 'binary'

/** The WebSocket routes, in OpenAPI's path form. The upgrade handler matches
 *  with these very templates, and openapi.ts documents each of them (a test
 *  fails when a template has no operation in the document). */
export const WS_ROUTES = { logs: '/jobs/{id}/logs/ws', attach: '/jobs/{id}/attach', exec: '/jobs/{id}/exec/ws', multiplexed: '/ws' } as const

/** '/jobs/{id}/attach' → /^\/jobs\/([^/]+)\/attach\/?$/ (one capture per parameter). */
export const templateRegExp = (t: string) => new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '([^/]+)')}/?$`)
const SINGLE = templateRegExp(WS_ROUTES.logs)
const ATTACH = templateRegExp(WS_ROUTES.attach)
const MUX = templateRegExp(WS_ROUTES.multiplexed)
const EXEC = templateRegExp(WS_ROUTES.exec)
const Size = z.object({ rows: z.number().int().min(1).max(65535), cols: z.number().int().min(1).max(65535) }).strict()
const AttachMsg = z.union([
  z.object({ stdin: z.string() }).strict(),
  z.object({ stdin64: z.base64() }).strict(),
  z.object({ eof: z.literal(true) }).strict(),
  z.object({ resize: Size }).strict(),
])
const Sub = z.union([
  z.object({ subscribe: z.string().min(1), from: z.number().int().nonnegative().optional(), stream: z.enum(['stdout', 'stderr', 'all']).optional() }).strict(),
  z.object({ unsubscribe: z.string().min(1) }).strict(),
])

/** Counts bytes queued in the socket; ready() waits until they drain below the mark. */
class Sender {
  #inflight = 0
  #waiters: (() => void)[] = []
  constructor(
    readonly ws: WebSocket,
    readonly hwm: number,
  ) {}
  get inflight() {
    return this.#inflight
  }
  send(obj: unknown): void {
    this.sendRaw(Buffer.from(JSON.stringify(obj)), false)
  }
  /** One binary message sent as two WebSocket fragments, header then data, so the
   *  data (a view of the cursor's read buffer) is written to the socket without a
   *  copy; receivers see one message. Synchronous: nothing can interleave. */
  sendFragments(head: Buffer, data: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    const n = head.length + data.length
    this.#inflight += n
    this.ws.send(head, { binary: true, fin: false })
    this.ws.send(data, { binary: true, fin: true }, () => {
      this.#inflight -= n
      if (this.#inflight <= this.hwm / 2) this.#wake()
    })
  }
  /** A pre-encoded message: a JSON text (binary = false) or a binary frame. */
  sendRaw(b: Buffer, binary: boolean): void {
    if (this.ws.readyState !== this.ws.OPEN) return
    const n = b.length
    this.#inflight += n
    this.ws.send(b, { binary }, () => {
      this.#inflight -= n
      if (this.#inflight <= this.hwm / 2) this.#wake()
    })
  }
  #wake() {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }
  async ready(signal: AbortSignal): Promise<void> {
    while (this.#inflight > this.hwm && !signal.aborted && this.ws.readyState === this.ws.OPEN) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done)
          this.ws.off('close', done)
          resolve()
        }
        this.#waiters.push(done)
        signal.addEventListener('abort', done, { once: true })
        // the socket may close without flushing: don't wait forever
        this.ws.once('close', done)
      })
    }
  }
}

function reject(socket: Duplex, status: number, text: string, body: unknown) {
  const b = JSON.stringify(body)
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\nConnection: close\r\n\r\n${b}`)
}

const unauthorized = (socket: Duplex) =>
  reject(socket, 401, 'Unauthorized', { error: { code: 'UNAUTHENTICATED', message: 'missing or invalid credentials (Authorization: Bearer <token>, or a ticket from POST /auth/tickets as ?ticket= or Sec-WebSocket-Protocol ticket.<t>)' } })
const badRequest = (socket: Duplex, field: string, message: string) => reject(socket, 400, 'Bad Request', { error: { code: 'INVALID_ARGUMENT', message: `${field}: ${message}`, field } })
const REASON: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error' }
/** Answer the upgrade request with an error's status and body (as errors.ts would). */
const rejectWith = (socket: Duplex, err: unknown) => {
  const e = toSkiffError(err)
  const status = STATUS[e.kind]
  reject(socket, status, REASON[status] ?? 'Error', { error: { code: e.code, message: e.message, ...(e.extra.field ? { field: e.extra.field } : {}) } })
}

type Stream = 'stdout' | 'stderr' | 'all'
type Bad = { field: string; message: string }
const isBad = (v: object): v is Bad => 'field' in v

function formatParam(url: URL): Format | Bad {
  const format = url.searchParams.get('format') ?? 'json'
  return format === 'json' || format === 'binary' ? format : { field: 'format', message: 'expected json or binary' }
}

/** `from` and `stream` of a single-job socket (the logs follow and attach). */
function followParams(url: URL): { from: number | undefined; stream: Stream } | Bad {
  const from = url.searchParams.get('from')
  if (from !== null && !/^\d+$/.test(from)) return { field: 'from', message: 'expected a non-negative integer' }
  const stream = url.searchParams.get('stream') ?? 'all'
  if (stream !== 'stdout' && stream !== 'stderr' && stream !== 'all') return { field: 'stream', message: 'expected stdout, stderr or all' }
  return { from: from === null ? undefined : Number(from), stream }
}

export function attachLogsWebSocket(server: Server, deps: LogsRouteDeps & LogsWsOptions): { close(): void } {
  const hwm = deps.highWaterMark ?? 1024 * 1024
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    // Browsers fail the handshake unless one offered subprotocol is echoed; prefer a non-token one.
    handleProtocols: (protocols) => [...protocols].find((p) => !p.startsWith('ticket.')) ?? [...protocols][0] ?? false,
  })

  /** Follow one job onto the socket; resolves once the exit was sent (or the follow was aborted). */
  const sendRecord = (sender: Sender, r: LogRecord, job: string | undefined, format: Format) => {
    if (format === 'binary' && !r.dropped) {
      const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)
      const f = { job, offset: r.offset, stream: r.stream, time: r.time.getTime(), data }
      if (data.length >= 4096) sender.sendFragments(frameHeader(f), data)
      else sender.sendRaw(encodeFrame(f), true)
    } else sender.sendRaw(encodeWire(r, job), false)
  }

  async function pump(sender: Sender, id: string, from: number, stream: 'stdout' | 'stderr' | 'all' | undefined, signal: AbortSignal, tag: boolean, format: Format): Promise<boolean> {
    const job = tag ? id : undefined
    try {
      for await (const item of selectRecords(deps, id, { from, stream, follow: true, coalesce: true, markers: true }, signal)) {
        if (sender.inflight > sender.hwm) await sender.ready(signal)
        if (signal.aborted) return false
        if ('exit' in item) {
          sender.send(tag ? { job, exit: item.exit } : { exit: item.exit })
          return true
        }
        if ('attempt' in item) {
          sender.send(tag ? { job, attempt: item.attempt } : { attempt: item.attempt })
          continue
        }
        sendRecord(sender, item, job, format)
      }
      return false
    } catch (e) {
      if (signal.aborted) return false
      const err = isSkiffError(e) ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'internal error' }
      sender.send(tag ? { job, error: err } : { error: err })
      return false
    }
  }

  function keepalive(ws: WebSocket) {
    let alive = true
    ws.on('pong', () => (alive = true))
    const t = setInterval(() => {
      if (!alive) return ws.terminate()
      alive = false
      ws.ping()
    }, deps.pingMs ?? 20_000)
    t.unref()
    ws.on('close', () => clearInterval(t))
  }

  /** Follow one job onto the socket, closing it after the exit; returns the sender. */
  function single(ws: WebSocket, id: string, from: number, stream: Stream | undefined, format: Format): Sender {
    const ac = new AbortController()
    ws.on('close', () => ac.abort())
    ws.on('error', () => ac.abort())
    const sender = new Sender(ws, hwm)
    void pump(sender, id, from, stream, ac.signal, false, format).then((done) => {
      if (ws.readyState === ws.OPEN) ws.close(done ? 1000 : 1011, done ? 'exit' : 'error')
    })
    return sender
  }

  function multiplexed(ws: WebSocket, format: Format) {
    const subs = new Map<string, AbortController>()
    const sender = new Sender(ws, hwm)
    const stopAll = () => {
      for (const ac of subs.values()) ac.abort()
      subs.clear()
    }
    ws.on('close', stopAll)
    ws.on('error', stopAll)
    ws.on('message', (raw, isBinary) => {
      let msg: z.output<typeof Sub>
      try {
        msg = Sub.parse(JSON.parse(isBinary ? '' : raw.toString()))
      } catch {
        return sender.send({ error: { code: 'INVALID_ARGUMENT', message: 'message: expected {"subscribe": job, "from"?: offset} or {"unsubscribe": job}' } })
      }
      if ('unsubscribe' in msg) {
        subs.get(msg.unsubscribe)?.abort()
        subs.delete(msg.unsubscribe)
        return
      }
      let id: string
      try {
        id = lookup(msg.subscribe).id
      } catch (err) {
        const e = toSkiffError(err)
        return sender.send({ job: msg.subscribe, error: { code: e.code, message: e.message } })
      }
      subs.get(id)?.abort()
      const ac = new AbortController()
      subs.set(id, ac)
      void pump(sender, id, msg.from ?? 0, msg.stream, ac.signal, true, format).finally(() => {
        if (subs.get(id) === ac) subs.delete(id)
      })
    })
  }

  function attach(ws: WebSocket, id: string, from: number, stream: Stream, format: Format, o: { input: boolean }) {
    const sender = single(ws, id, from, stream, format)
    if (!o.input) return void ws.on('message', () => {}) // the job has ended: its stdin is gone
    const stdin = deps.stdin!
    let pending = 0
    let paused = false
    let chain = Promise.resolve()
    ws.on('message', (raw, isBinary) => {
      let data: Buffer | undefined
      let eof = false
      if (isBinary) data = Buffer.isBuffer(raw) ? raw : Buffer.concat(Array.isArray(raw) ? raw : [Buffer.from(raw)])
      else {
        let msg: z.output<typeof AttachMsg>
        try {
          msg = AttachMsg.parse(JSON.parse(raw.toString()))
        } catch {
          return sender.send({ error: { code: 'INVALID_ARGUMENT', message: 'message: expected binary stdin bytes, {"stdin": text}, {"stdin64": base64}, {"eof": true} or {"resize": {"rows", "cols"}}' } })
        }
        if ('resize' in msg) {
          // in order with the input around it, like everything on this socket
          const { rows, cols } = msg.resize
          chain = chain.then(async () => {
            try {
              if (!stdin.resize) throw new Error('resize is not wired')
              await stdin.resize(id, rows, cols)
            } catch (e) {
              const err = isSkiffError(e) ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'internal error' }
              sender.send({ error: err })
            }
          })
          return
        }
        if ('eof' in msg) eof = true
        else data = 'stdin' in msg ? Buffer.from(msg.stdin) : Buffer.from(msg.stdin64, 'base64')
      }
      const n = data?.length ?? 0
      pending += n
      if (pending > hwm && !paused) {
        paused = true
        ws.pause()
      }
      chain = chain.then(async () => {
        try {
          if (n) await stdin.write(id, data!)
          if (eof) await stdin.close(id)
        } catch (e) {
          const err = isSkiffError(e) ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'internal error' }
          sender.send({ error: err })
        } finally {
          pending -= n
          if (paused && pending <= hwm / 4) {
            paused = false
            ws.resume()
          }
        }
      })
    })
  }

  /** By id, name or unique id prefix; throws JOB_NOT_FOUND or AMBIGUOUS_JOB_ID. */
  const lookup = (asked: string) => {
    const job = deps.jobs.get(asked)
    if (!job) throw jobNotFound(asked)
    return job
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const attachMatch = deps.stdin ? ATTACH.exec(url.pathname) : null
    if (attachMatch) return void onAttach(req, socket, head, url, decodeURIComponent(attachMatch[1]!))
    const execMatch = deps.exec ? EXEC.exec(url.pathname) : null
    if (execMatch) return onExec(req, socket, head, url, decodeURIComponent(execMatch[1]!))
    const m = SINGLE.exec(url.pathname)
    if (!m && !MUX.test(url.pathname)) {
      // Not ours: leave it to another upgrade handler, if there is one.
      if (server.listenerCount('upgrade') <= 1) reject(socket, 404, 'Not Found', { error: { code: 'ROUTE_NOT_FOUND', message: `no WebSocket route ${url.pathname}` } })
      return
    }
    if (!deps.authorize(req)) return unauthorized(socket)
    const format = formatParam(url)
    if (typeof format !== 'string') return badRequest(socket, format.field, format.message)
    if (m) {
      const asked = decodeURIComponent(m[1]!)
      const q = followParams(url)
      if (isBad(q)) return badRequest(socket, q.field, q.message)
      let id: string
      try {
        id = lookup(asked).id
      } catch (e) {
        return rejectWith(socket, e)
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        keepalive(ws)
        single(ws, id, q.from ?? 0, q.stream, format)
      })
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      keepalive(ws)
      multiplexed(ws, format)
    })
  }

  async function onAttach(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, asked: string) {
    if (!deps.authorize(req)) return unauthorized(socket)
    const format = formatParam(url)
    if (typeof format !== 'string') return badRequest(socket, format.field, format.message)
    const q = followParams(url)
    if (isBad(q)) return badRequest(socket, q.field, q.message)
    const logs = url.searchParams.get('logs') ?? 'false'
    if (logs !== 'true' && logs !== 'false') return badRequest(socket, 'logs', 'expected true or false')
    let job: ReturnType<typeof lookup>
    try {
      job = lookup(asked)
    } catch (e) {
      return rejectWith(socket, e)
    }
    // An ended job with logs=true still gives its whole output and exit (input is dropped):
    // a client that runs a job and then attaches (skiff run -i) gets everything, however
    // quickly the job ended. Without logs=true there would be nothing to give: 409.
    const ended = isFinal(job.state as JobState)
    const conflict = !job.interactive ? stdinNotOpen(job.id) : ended && logs !== 'true' ? notRunning(job) : undefined
    if (conflict) return reject(socket, 409, 'Conflict', { error: { code: conflict.code, message: conflict.message } })
    // Docker's attach shows output from now on; logs=true replays it all
    const from = q.from ?? (logs === 'true' ? 0 : await deps.logs.end(job.id).catch(() => 0))
    wss.handleUpgrade(req, socket, head, (ws) => {
      keepalive(ws)
      attach(ws, job.id, from, q.stream, format, { input: !ended })
    })
  }

  function onExec(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, asked: string) {
    if (!deps.authorize(req)) return unauthorized(socket)
    let p: ExecParams
    let job: ReturnType<typeof lookup>
    try {
      p = execParams(url.searchParams, deps.exec!.host())
      job = lookup(asked)
      if (job.state !== 'running') throw notRunning(job)
    } catch (e) {
      return rejectWith(socket, e)
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      keepalive(ws)
      serveExec(ws, job.id, p, deps.exec!, hwm)
    })
  }

  server.on('upgrade', onUpgrade)
  const onClose = () => {
    for (const c of wss.clients) c.terminate()
  }
  server.on('close', onClose)
  return {
    close() {
      server.off('upgrade', onUpgrade)
      server.off('close', onClose)
      onClose()
      wss.close()
    },
  }
}
