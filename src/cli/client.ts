import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import type WebSocket from 'ws'
import { SkiffError, type ErrorKind } from '../lib/errors.js'
import { ConnectionError, readText, request1, type Endpoint } from './http1.js'

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
  headers: Record<string, string>
  /** the body as a stream (async-iterable Buffers) */
  body: Readable
  text(): Promise<string>
  json<T = unknown>(): Promise<T>
}

export interface RequestOptions {
  body?: unknown
  rawBody?: Readable | Buffer
  headers?: Record<string, string>
  signal?: AbortSignal
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 422: 'failed_precondition', 502: 'upstream', 503: 'unavailable', 507: 'insufficient_storage' }

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

/** Talks to the daemon over its unix socket or TCP (+ bearer token), one
 *  connection per request (http1.ts: no HTTP library to load, which would be
 *  most of a short command's time). */
export class Client {
  readonly target: Target
  readonly #token: string | undefined

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

  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    let body: string | Buffer | Readable | undefined
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    } else body = opts.rawBody
    let to: Endpoint
    if (this.target.kind === 'unix') to = { socketPath: this.target.socket }
    else {
      const u = new URL(this.target.origin)
      to = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) }
    }
    let res
    try {
      res = await request1(to, { method, path, headers, body, signal: opts.signal })
    } catch (e) {
      if (!(e instanceof ConnectionError)) throw e
      throw new SkiffError('unavailable', 'DAEMON_UNREACHABLE', `cannot reach the skiff daemon at ${this.address}: ${e.code} (is \`skiff daemon\` running?)`, { cause: e })
    }
    if (res.status >= 400) throw apiError(res.status, await readText(res.body))
    const b = res.body
    return { statusCode: res.status, headers: res.headers, body: b, text: () => readText(b), json: async <T>() => JSON.parse(await readText(b)) as T }
  }

  /** Nothing to release (one connection per request); kept for callers that tidy up. */
  close(): void {}

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
