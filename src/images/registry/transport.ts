import type { Readable } from 'node:stream'
import type { Agent } from 'undici'
import { aborted, insecureRefused, redirectRefused, registryTimeout, registryUnavailable } from '../errors.js'

export interface HttpRequest {
  method: 'GET' | 'HEAD'
  url: string
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Follow redirects (blobs only; manifests are never redirected in practice and a
   *  redirect there would be a way to bypass the size cap bookkeeping). */
  followRedirects?: boolean
}
export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Readable
  /** The URL that produced this response (after redirects). */
  url: string
}
export type Fetcher = (req: HttpRequest) => Promise<HttpResponse>

export interface TransportOptions {
  /** Time to wait for response headers. */
  headersTimeoutMs?: number
  /** Idle time allowed between two body chunks; a stalled blob fails after this. */
  bodyTimeoutMs?: number
  connectTimeoutMs?: number
  userAgent?: string
  dispatcher?: Agent
}

const hostOf = (url: string) => new URL(url).host
const nameOf = (url: string) => {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

/** True for 127.0.0.0/8, ::1 and localhost (with or without a port). Pure. */
export function isLoopbackHost(host: string): boolean {
  let h = host.toLowerCase()
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'))
  else if (h.split(':').length === 2) h = h.split(':')[0]!
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** Plain http is allowed only for loopback or explicitly insecure registries. Pure. */
export function httpAllowed(host: string, insecure: readonly string[]): boolean {
  const h = host.toLowerCase()
  return isLoopbackHost(h) || insecure.some((i) => i.toLowerCase() === h || i.toLowerCase() === h.split(':')[0])
}

/** The scheme skiff uses for a registry host. Pure. */
export const schemeFor = (host: string, insecure: readonly string[]): 'http' | 'https' => (httpAllowed(host, insecure) ? 'http' : 'https')

function mapNetError(url: string, e: unknown): unknown {
  const code = (e as { code?: string })?.code
  const name = (e as Error)?.name
  if (name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED') return aborted(`request ${url}`)
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return registryTimeout(nameOf(url), code === 'UND_ERR_BODY_TIMEOUT' ? 'response body' : code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'response headers', -1)
  if (e instanceof Error && !(e as { kind?: string }).kind) return registryUnavailable(nameOf(url), e.message, e)
  return e
}

/** Map a stream error of a response body (e.g. undici's body timeout) to a SkiffError. */
export const mapBodyError = (url: string, e: unknown, bodyTimeoutMs?: number): unknown => {
  const m = mapNetError(url, e) as { code?: string; message: string }
  if (m && m.code === 'REGISTRY_TIMEOUT' && bodyTimeoutMs) return registryTimeout(nameOf(url), 'response body', bodyTimeoutMs)
  return m
}

/** The bottom fetcher: one undici request with header/body/connect timeouts. A stalled
 *  connection only fails its own request; every request has its own timers. */
export function baseFetcher(opts: TransportOptions = {}): { fetch: Fetcher; close(): Promise<void> } {
  // undici (~6 MB of heap) loads at the first registry request, not with the daemon:
  // most daemons pull rarely, and a daemon that never pulls never pays for it
  let dispatcher: Agent | undefined = opts.dispatcher
  const fetch: Fetcher = async (req) => {
    const m = await import('undici')
    // CommonJS seen from ESM: Node gives named exports too, the daemon's bundle only `default`
    const undici = m.default ?? m
    dispatcher ??= new undici.Agent({ connect: { timeout: opts.connectTimeoutMs ?? 10_000 }, connections: 16, keepAliveTimeout: 10_000 })
    try {
      const res = await undici.request(req.url, {
        method: req.method,
        headers: { 'user-agent': opts.userAgent ?? 'skiff/0.1', ...req.headers },
        signal: req.signal,
        dispatcher,
        headersTimeout: opts.headersTimeoutMs ?? 30_000,
        bodyTimeout: opts.bodyTimeoutMs ?? 30_000,
      })
      return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url }
    } catch (e) {
      const m = mapNetError(req.url, e)
      if ((m as { code?: string }).code === 'REGISTRY_TIMEOUT') throw registryTimeout(nameOf(req.url), 'response headers', opts.headersTimeoutMs ?? 30_000)
      throw m
    }
  }
  return { fetch, close: () => (opts.dispatcher || !dispatcher ? Promise.resolve() : dispatcher.close()) }
}

/** Refuse http:// to anything but loopback/insecure registries; refuse non-http(s) schemes. */
export function withSchemePolicy(next: Fetcher, insecure: readonly string[]): Fetcher {
  return (req) => {
    const u = new URL(req.url)
    if (u.protocol === 'https:') return next(req)
    if (u.protocol === 'http:' && httpAllowed(u.host, insecure)) return next(req)
    if (u.protocol === 'http:') throw insecureRefused(req.url)
    throw redirectRefused(req.url, `scheme ${u.protocol} is not http(s)`)
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(aborted('retry wait'))), { once: true })
  })
const RETRY_STATUS = new Set([429, 502, 503, 504])

/** Retry idempotent requests on network errors and 429/502/503/504, with backoff; bounded. */
export function withRetry(next: Fetcher, opts: { attempts?: number; baseDelayMs?: number } = {}): Fetcher {
  const attempts = opts.attempts ?? 3
  const base = opts.baseDelayMs ?? 200
  return async (req) => {
    for (let i = 1; ; i++) {
      try {
        const res = await next(req)
        if (!RETRY_STATUS.has(res.status) || i >= attempts) return res
        res.body.resume()
      } catch (e) {
        const code = (e as { code?: string }).code
        if (i >= attempts || (code !== 'REGISTRY_UNAVAILABLE' && code !== 'REGISTRY_TIMEOUT')) throw e
      }
      await sleep(base * 2 ** (i - 1), req.signal)
    }
  }
}

const REDIRECT = new Set([301, 302, 303, 307, 308])

/** Follow redirects when asked (blobs): at most `max` hops, only to http(s) (the scheme
 *  policy below still applies to each hop), and never carrying Authorization to another host. */
export function withRedirects(next: Fetcher, opts: { max?: number } = {}): Fetcher {
  const max = opts.max ?? 5
  return async (req) => {
    let cur = req
    for (let hop = 0; ; hop++) {
      const res = await next(cur)
      if (!REDIRECT.has(res.status) || !req.followRedirects) return res
      res.body.resume()
      const loc = res.headers.location
      if (typeof loc !== 'string' || !loc) throw redirectRefused(cur.url, `status ${res.status} without a Location header`)
      if (hop >= max) throw redirectRefused(loc, `more than ${max} redirects`)
      const target = new URL(loc, cur.url)
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw redirectRefused(target.href, `scheme ${target.protocol} is not http(s)`)
      const headers = { ...cur.headers }
      if (target.host !== hostOf(cur.url)) delete headers.authorization
      cur = { ...cur, url: target.href, headers }
    }
  }
}
