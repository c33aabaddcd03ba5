import { Agent, request, type Dispatcher } from 'undici'
import { SkiffError, type ErrorKind } from '../lib/errors.js'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'

/** Talks to the daemon: the unix socket by default, or SKIFF_HOST (http://host:port) + SKIFF_TOKEN. */
export interface ClientOptions {
  socket?: string
  host?: string
  token?: string
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 422: 'failed_precondition', 502: 'upstream', 503: 'unavailable' }

export class Client {
  readonly #origin: string
  readonly #dispatcher: Dispatcher | undefined
  readonly #token: string | undefined
  readonly #socket: string | undefined

  constructor(o: ClientOptions = {}) {
    const host = o.host ?? process.env.SKIFF_HOST
    if (host) {
      this.#origin = host.startsWith('http') ? host : `http://${host}`
      this.#token = o.token ?? process.env.SKIFF_TOKEN ?? readTokenFile()
    } else {
      this.#origin = 'http://localhost'
      this.#socket = o.socket ?? process.env.SKIFF_SOCKET ?? '/run/skiff/skiff.sock'
      this.#dispatcher = new Agent({ connect: { socketPath: this.#socket } })
    }
  }

  async raw(method: string, path: string, opts: { body?: unknown; rawBody?: NodeJS.ReadableStream | Buffer; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
    const headers: Record<string, string> = { ...opts.headers }
    if (this.#token) headers.authorization = `Bearer ${this.#token}`
    let body: string | Buffer | NodeJS.ReadableStream | undefined
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(opts.body)
    } else if (opts.rawBody) body = opts.rawBody
    let res: Dispatcher.ResponseData
    try {
      res = await request(this.#origin + path, { method: method as Dispatcher.HttpMethod, headers, body: body as never, dispatcher: this.#dispatcher, signal: opts.signal, bodyTimeout: 0, headersTimeout: 0 })
    } catch (e) {
      const msg = (e as Error).message
      throw new SkiffError('unavailable', 'DAEMON_UNREACHABLE', `cannot reach the skiff daemon at ${this.#dispatcher ? 'its unix socket' : this.#origin}: ${msg} (is \`skiff daemon\` running?)`, { cause: e })
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text()
      let err: { code?: string; message?: string; field?: string } = {}
      try {
        err = (JSON.parse(text) as { error: typeof err }).error ?? {}
      } catch {
        err = { message: text }
      }
      throw new SkiffError(KIND_BY_STATUS[res.statusCode] ?? 'internal', err.code ?? `HTTP_${res.statusCode}`, err.message ?? `HTTP ${res.statusCode}`, { field: err.field })
    }
    return res
  }

  /** A WebSocket to `path` (with its query), over the unix socket or TCP + token. */
  websocket(path: string): WebSocket {
    if (this.#socket) return new WebSocket(`ws+unix://${this.#socket}:${path}`)
    return new WebSocket(this.#origin.replace(/^http/, 'ws') + path, this.#token ? { headers: { authorization: `Bearer ${this.#token}` } } : {})
  }

  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, { body })
    if (res.statusCode === 204) return undefined as T
    return (await res.body.json()) as T
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
