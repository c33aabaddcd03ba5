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
// Auth: deps.authorize(req) (Authorization header, Sec-WebSocket-Protocol
// `bearer.<token>`, or ?token=); otherwise 401 before the upgrade.
// Stdin attach is not implemented yet.
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { z } from 'zod'
import { isSkiffError } from '../../lib/errors.js'
import { encodeFrame, frameHeader } from '../../logs/index.js'
import type { LogRecord } from '../../logs/index.js'
import { encodeWire, jobNotFound, selectRecords, type LogsRouteDeps } from './logs.js'

export interface LogsWsOptions {
  authorize(req: IncomingMessage): boolean
  /** Keepalive ping interval (default 20 s). */
  pingMs?: number
  /** Stop reading from disk while more than this many bytes wait in the socket (default 1 MiB). */
  highWaterMark?: number
}

type Format = 'json' | 'binary'
const SINGLE = /^\/jobs\/([^/]+)\/logs\/ws\/?$/
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

export function attachLogsWebSocket(server: Server, deps: LogsRouteDeps & LogsWsOptions): { close(): void } {
  const hwm = deps.highWaterMark ?? 1024 * 1024
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    // Browsers fail the handshake unless one offered subprotocol is echoed; prefer a non-token one.
    handleProtocols: (protocols) => [...protocols].find((p) => !p.startsWith('bearer.')) ?? [...protocols][0] ?? false,
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
      for await (const item of selectRecords(deps, id, { from, stream, follow: true, coalesce: true }, signal)) {
        if (sender.inflight > sender.hwm) await sender.ready(signal)
        if (signal.aborted) return false
        if ('exit' in item) {
          sender.send(tag ? { job, exit: item.exit } : { exit: item.exit })
          return true
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

  function single(ws: WebSocket, id: string, from: number, stream: 'stdout' | 'stderr' | 'all' | undefined, format: Format) {
    const ac = new AbortController()
    ws.on('close', () => ac.abort())
    ws.on('error', () => ac.abort())
    const sender = new Sender(ws, hwm)
    void pump(sender, id, from, stream, ac.signal, false, format).then((done) => {
      if (ws.readyState === ws.OPEN) ws.close(done ? 1000 : 1011, done ? 'exit' : 'error')
    })
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
      const id = deps.jobs.get(msg.subscribe)?.id
      if (!id) {
        const e = jobNotFound(msg.subscribe)
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

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const m = SINGLE.exec(url.pathname)
    if (!m && url.pathname !== '/ws') {
      // Not ours: leave it to another upgrade handler, if there is one.
      if (server.listenerCount('upgrade') <= 1) reject(socket, 404, 'Not Found', { error: { code: 'ROUTE_NOT_FOUND', message: `no WebSocket route ${url.pathname}` } })
      return
    }
    if (!deps.authorize(req)) return reject(socket, 401, 'Unauthorized', { error: { code: 'UNAUTHENTICATED', message: 'missing or invalid token (Authorization: Bearer, Sec-WebSocket-Protocol bearer.<token>, or ?token=)' } })
    const format = url.searchParams.get('format') ?? 'json'
    if (format !== 'json' && format !== 'binary') return reject(socket, 400, 'Bad Request', { error: { code: 'INVALID_ARGUMENT', message: 'format: expected json or binary', field: 'format' } })
    if (m) {
      const asked = decodeURIComponent(m[1]!)
      const fromRaw = url.searchParams.get('from') ?? '0'
      const stream = url.searchParams.get('stream') ?? 'all'
      if (!/^\d+$/.test(fromRaw)) return reject(socket, 400, 'Bad Request', { error: { code: 'INVALID_ARGUMENT', message: 'from: expected a non-negative integer', field: 'from' } })
      if (stream !== 'stdout' && stream !== 'stderr' && stream !== 'all') return reject(socket, 400, 'Bad Request', { error: { code: 'INVALID_ARGUMENT', message: 'stream: expected stdout, stderr or all', field: 'stream' } })
      const id = deps.jobs.get(asked)?.id
      if (!id) {
        const e = jobNotFound(asked)
        return reject(socket, 404, 'Not Found', { error: { code: e.code, message: e.message } })
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        keepalive(ws)
        single(ws, id, Number(fromRaw), stream, format)
      })
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      keepalive(ws)
      multiplexed(ws, format)
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
