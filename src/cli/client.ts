import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import type WebSocket from 'ws'
import { SkiffError, type ErrorKind } from '../lib/errors.js'

/** Where the daemon is: DOCKER_HOST's forms (unix:///path, tcp://host:port), plus
 *  http://host:port, host:port and a bare socket path. Pure; throws on a form skiff
 *  cannot speak (ssh://, https://). */
export type Target = { kind: 'unix'; socket: string } | { kind: 'tcp'; origin: string }

export function parseHost(host: string): Target {
  const h = host.trim()
  if (h.startsWith('unix://')) {
    const socket = h.slice('unix://'.length)
    if (!socket.startsWith('/')) throw hostError(host, 'unix:// needs an absolute path, e.g. unix:///run/skiff/skiff.sock')
    return { kind: 'unix', socket }
  }
  if (h.startsWith('/')) return { kind: 'unix', socket: h }
  let rest = h
  if (h.startsWith('tcp://')) rest = h.slice('tcp://'.length)
  else if (h.startsWith('http://')) rest = h.slice('http://'.length)
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(h)) throw hostError(host, `unsupported scheme ${h.split(':')[0]}:// (use unix://, tcp:// or http://)`)
  rest = rest.replace(/\/+$/, '')
  const m = /^(\[[0-9a-f:]+\]|[^:/\s]+)(?::(\d{1,5}))?$/i.exec(rest)
  if (!m) throw hostError(host, 'expected host:port')
  return { kind: 'tcp', origin: `http://${m[1]}:${m[2] ?? '7777'}` }
}

const hostError = (host: string, why: string) => new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `SKIFF_HOST ${JSON.stringify(host)}: ${why}`, { field: 'SKIFF_HOST' })

export interface ClientOptions {
  /** SKIFF_HOST's forms; default SKIFF_HOST, else the unix socket */
  host?: string
  socket?: string
  token?: string
}

export interface Response {
  statusCode: number
  headers: IncomingHttpHeaders
  /** the body as a stream (async-iterable Buffers) */
  body: IncomingMessage
  text(): Promise<string>
  json<T = unknown>(): Promise<T>
}

export interface RequestOptions {
  body?: unknown
  rawBody?: Readable | Buffer
  headers?: Record<string, string>
  signal?: AbortSignal
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 422: 'failed_precondition', 502: 'upstream', 503: 'unavailable' }

/** An API error answer → SkiffError with the daemon's code and field. */
export function apiError(status: number, text: string): SkiffError {
  let err: { code?: string; message?: string; field?: string } = {}
  try {
    err = (JSON.parse(text) as { error?: typeof err }).error ?? {}
  } catch {
    err = { message: text.trim() || undefined }
  }
  return new SkiffError(KIND_BY_STATUS[status] ?? 'internal', err.code ?? `HTTP_${status}`, err.message ?? `HTTP ${status}`, err.field ? { field: err.field } : {})
}

/** Talks to the daemon over its unix socket or TCP (+ bearer token) with Node's
 *  own http: no client library to load, which is most of a short command's time. */
export class Client {
  readonly target: Target
  readonly #token: string | undefined
  // keep-alive: a foreground run makes several requests on one connection
  readonly #agent = new Agent({ keepAlive: true })

  constructor(o: ClientOptions = {}) {
    const host = o.host ?? process.env.SKIFF_HOST
    if (host) {
      this.target = parseHost(host)
      if (this.target.kind === 'tcp') this.#token = o.token ?? process.env.SKIFF_TOKEN ?? readTokenFile()
    } else this.target = { kind: 'unix', socket: o.socket ?? process.env.SKIFF_SOCKET ?? '/run/skiff/skiff.sock' }
  }

  /** unix:///path or http://host:port, for messages */
  get address(): string {
    return this.target.kind === 'unix' ? `unix://${this.target.socket}` : this.target.origin
  }

  raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    let body: string | Buffer | Readable | undefined
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    } else body = opts.rawBody
    if (typeof body === 'string' || Buffer.isBuffer(body)) headers['content-length'] = String(Buffer.byteLength(body))
    const where = this.target.kind === 'unix' ? { socketPath: this.target.socket, host: 'localhost' } : (() => {
      const u = new URL(this.target.origin)
      return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) }
    })()
    return new Promise<Response>((resolve, reject) => {
      let settled = false
      const fail = (e: unknown) => {
        if (settled) return
        settled = true
        reject(e)
      }
      const req = httpRequest({ ...where, method, path, headers, agent: this.#agent, signal: opts.signal }, (res) => {
        const text = async () => {
          const chunks: Buffer[] = []
          for await (const c of res) chunks.push(c as Buffer)
          return Buffer.concat(chunks).toString('utf8')
        }
        if ((res.statusCode ?? 500) >= 400) {
          text().then((t) => fail(apiError(res.statusCode ?? 500, t)), fail)
          return
        }
        settled = true
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res, text, json: async <T>() => JSON.parse(await text()) as T })
      })
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (opts.signal?.aborted) return fail(e)
        // the request body's own failure (a file that cannot be read) is not the daemon's
        if ((e as { skiffBody?: boolean }).skiffBody) return fail(e)
        fail(new SkiffError('unavailable', 'DAEMON_UNREACHABLE', `cannot reach the skiff daemon at ${this.address}: ${e.code ?? e.message} (is \`skiff daemon\` running?)`, { cause: e }))
      })
      if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body)
      else {
        body.on('error', (e) => {
          Object.assign(e, { skiffBody: true })
          req.destroy(e)
        })
        body.pipe(req)
      }
    })
  }

  /** Drop idle keep-alive connections (they would hold the process until the daemon times them out). */
  close(): void {
    this.#agent.destroy()
  }

  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, { body })
    if (res.statusCode === 204) return undefined as T
    return res.json<T>()
  }

  /** A WebSocket to `path` (with its query), over the unix socket or TCP + token. */
  async websocket(path: string): Promise<WebSocket> {
    const { default: WS } = await import('ws')
    if (this.target.kind === 'unix') return new WS(`ws+unix://${this.target.socket}:${path}`)
    return new WS(this.target.origin.replace(/^http/, 'ws') + path, this.#token ? { headers: { authorization: `Bearer ${this.#token}` } } : {})
  }
}

function readTokenFile(): string | undefined {
  const dir = process.env.SKIFF_DATA_DIR ?? '/var/lib/skiff'
  try {
    return readFileSync(`${dir}/token`, 'utf8').trim()
  } catch {
    return undefined
  }
}
