// A minimal HTTP/1.1 client on a plain socket, for the CLI's own daemon only.
//
// Why not node:http: loading and first use of node:http costs ~12 ms of CPU (its
// agent, parser and stream classes), about a quarter of a whole Node start. A
// short command (`skiff ps`) spends more on that than on its work, and the bench
// holds it to 1.3x `node -e ''`. The daemon speaks plain HTTP/1.1, so what is
// needed here is small:
//   1. request: `METHOD path HTTP/1.1`, Host, `Connection: close`, our headers;
//      a body as Content-Length bytes, or a stream sent chunked.
//   2. response: status line and headers up to the blank line; then the body by
//      Transfer-Encoding: chunked, Content-Length, or until the server closes;
//      none for HEAD, 1xx, 204 and 304.
//   3. one request per connection (the server closes after it): no pooling, no
//      pipelining, no upgrades (the attach WebSocket uses `ws`).
import { connect, type Socket } from 'node:net'
import { Readable } from 'node:stream'

export type Endpoint = { socketPath: string } | { host: string; port: number }

export interface Http1Request {
  method: string
  path: string
  headers?: Record<string, string>
  body?: string | Buffer | Readable
  signal?: AbortSignal
}

export interface Http1Response {
  status: number
  headers: Record<string, string>
  /** The body: Buffers as they arrive, paused while nobody reads (backpressure reaches the socket). */
  body: Readable
}

/** An error of the connection itself (refused, reset before the response): the daemon could not be reached. */
export class ConnectionError extends Error {
  constructor(readonly code: string, message: string, readonly errno?: NodeJS.ErrnoException) {
    super(message)
  }
}

export function request1(to: Endpoint, r: Http1Request): Promise<Http1Response> {
  return new Promise<Http1Response>((resolve, reject) => {
    const sock: Socket = 'socketPath' in to ? connect(to.socketPath) : connect(to.port, to.host)
    let settled = false
    let body: Readable | undefined
    const fail = (e: Error) => {
      if (!settled) {
        settled = true
        reject(e)
      } else body?.destroy(e)
      sock.destroy()
    }
    const onAbort = () => fail(Object.assign(new Error('aborted'), { name: 'AbortError', code: 'ABORT_ERR' }))
    if (r.signal?.aborted) return onAbort()
    r.signal?.addEventListener('abort', onAbort, { once: true })
    sock.on('error', (e: NodeJS.ErrnoException) => fail(settled ? e : new ConnectionError(e.code ?? 'ECONNRESET', e.message, e)))
    sock.on('close', () => {
      r.signal?.removeEventListener('abort', onAbort)
      if (!settled) fail(new ConnectionError('ECONNRESET', 'connection closed before a response'))
    })

    // 1. the request
    const headers: Record<string, string> = { host: 'localhost', connection: 'close', ...lower(r.headers ?? {}) }
    const streamed = r.body instanceof Readable
    if (r.body !== undefined && !streamed) headers['content-length'] = String(Buffer.byteLength(r.body as string | Buffer))
    if (streamed) headers['transfer-encoding'] = 'chunked'
    let head = `${r.method} ${r.path} HTTP/1.1\r\n`
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
    if (typeof r.body === 'string') sock.write(head + '\r\n' + r.body)
    else {
      sock.write(head + '\r\n')
      if (Buffer.isBuffer(r.body)) sock.write(r.body)
    }
    if (streamed) {
      const src = r.body as Readable
      // stop uploading once the answer is in (an early 4xx), or the connection is gone
      const stop = () => src.destroy()
      sock.once('close', stop)
      src.on('data', (c: Buffer | string) => {
        const b = typeof c === 'string' ? Buffer.from(c) : c
        if (!b.length) return
        sock.write(`${b.length.toString(16)}\r\n`)
        sock.write(b)
        if (!sock.write('\r\n')) {
          src.pause()
          sock.once('drain', () => src.resume())
        }
      })
      src.on('end', () => sock.write('0\r\n\r\n'))
      src.on('error', (e) => fail(e))
    }

    // 2. the response
    let buf: Buffer = Buffer.alloc(0)
    let mode: 'head' | 'chunked' | 'length' | 'close' | 'done' = 'head'
    let remaining = 0 // length: body bytes left; chunked data: bytes left in this chunk; crlf: bytes of CRLF left
    let chunk: 'size' | 'data' | 'crlf' | 'trailer' = 'size'
    const finish = () => {
      if (mode === 'done') return
      mode = 'done'
      body!.push(null)
      sock.destroy()
    }
    const emit = (b: Buffer) => {
      if (b.length && !body!.push(b)) sock.pause()
    }
    const onBody = (b: Buffer): void => {
      if (mode === 'close') return emit(b)
      if (mode === 'length') {
        const take = b.subarray(0, remaining)
        remaining -= take.length
        emit(take)
        if (remaining === 0) finish()
        return
      }
      // chunked: <hex size>[;ext]CRLF <data> CRLF … 0 CRLF [trailers] CRLF
      buf = buf.length ? Buffer.concat([buf, b]) : b
      while (mode === 'chunked') {
        if (chunk === 'data' || chunk === 'crlf') {
          if (!buf.length) return
          const take = Math.min(remaining, buf.length)
          if (chunk === 'data') emit(buf.subarray(0, take))
          buf = buf.subarray(take)
          remaining -= take
          if (remaining > 0) return
          if (chunk === 'data') {
            chunk = 'crlf'
            remaining = 2
          } else chunk = 'size'
          continue
        }
        const nl = buf.indexOf('\r\n')
        if (nl < 0) return
        const line = buf.subarray(0, nl).toString('latin1')
        buf = buf.subarray(nl + 2)
        if (chunk === 'trailer') {
          if (line === '') finish()
          continue
        }
        const size = parseInt(line.split(';')[0]!, 16)
        if (!Number.isFinite(size) || size < 0) return fail(new Error('bad chunk size from the daemon'))
        if (size === 0) chunk = 'trailer'
        else {
          chunk = 'data'
          remaining = size
        }
      }
    }
    sock.on('data', (b: Buffer) => {
      if (mode === 'done') return
      if (mode !== 'head') return onBody(b)
      buf = buf.length ? Buffer.concat([buf, b]) : b
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        if (buf.length > 64 * 1024) fail(new Error('response headers too large'))
        return
      }
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
      if (!m) return fail(new Error(`not an HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 40))}`))
      const status = Number(m[1])
      const hs: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        if (i > 0) hs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      const rest = buf.subarray(end + 4)
      buf = Buffer.alloc(0)
      if (status < 200) {
        // 100 Continue and friends: the real head follows
        if (rest.length) sock.emit('data', rest)
        return
      }
      body = new Readable({ read: () => sock.resume() })
      settled = true
      resolve({ status, headers: hs, body })
      if (r.method === 'HEAD' || status === 204 || status === 304) return finish()
      if (/\bchunked\b/i.test(hs['transfer-encoding'] ?? '')) mode = 'chunked'
      else if (hs['content-length'] !== undefined) {
        mode = 'length'
        remaining = Number(hs['content-length'])
        if (remaining === 0) return finish()
      } else mode = 'close'
      if (rest.length) onBody(rest)
    })
    sock.on('end', () => {
      if (mode === 'close' || mode === 'head') {
        if (body) finish()
        return
      }
      if (mode !== 'done') body?.destroy(new Error('connection closed mid-response'))
    })
  })
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v
  return out
}

/** The whole body as text. */
export async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of body) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
