import { SingleFlight } from '../../lib/single-flight.js'
import { registryError, registryUnauthorized } from '../errors.js'
import { parseChallenges, type Challenge } from './challenge.js'
import type { CredentialMap, RegistryCredential } from './credentials.js'
import type { Fetcher, HttpRequest, HttpResponse } from './transport.js'
import { readCapped } from './read.js'

// The handshake (distribution spec + docker token auth, distribution/docs/spec/auth/token.md):
//  1. GET /v2/ (once per registry) → 200: no auth needed. 401: remember the challenge.
//  2. Basic: attach the configured credentials. Bearer: GET <realm>?service=…&scope=…
//     (with Basic credentials when configured) for a token; cache it per (registry, scope)
//     until expires_in.
//  3. A 401 on a real request means the token is stale or the scope is wider: re-read the
//     challenge, drop the cached token and try ONCE more; a second 401 is
//     REGISTRY_UNAUTHORIZED, never a loop.
const TOKEN_MAX_BYTES = 1 << 20
const DEFAULT_TOKEN_TTL_S = 60

interface CachedToken {
  header: string
  expiresAt: number
}

export class Authenticator {
  readonly #challenges = new Map<string, Challenge | null>()
  readonly #tokens = new Map<string, CachedToken>()
  readonly #pings = new SingleFlight<string, Challenge | null>()
  readonly #tokenFlights = new SingleFlight<string, CachedToken>()
  /** Count of token requests sent (observability and tests). */
  tokenRequests = 0

  constructor(
    readonly fetch: Fetcher,
    readonly credentials: CredentialMap,
    readonly now: () => number = Date.now,
  ) {}

  credentialFor(registry: string): RegistryCredential | undefined {
    return this.credentials[registry]
  }

  /** Ping GET /v2/ once per registry and remember its challenge (null = open). */
  async ping(registry: string, baseUrl: string, signal?: AbortSignal): Promise<Challenge | null> {
    if (this.#challenges.has(registry)) return this.#challenges.get(registry)!
    return this.#pings.run(registry, async () => {
      const res = await this.fetch({ method: 'GET', url: `${baseUrl}/v2/`, signal })
      res.body.resume()
      let ch: Challenge | null = null
      if (res.status === 401) ch = pickChallenge(res) ?? null
      else if (res.status >= 500) throw registryError(registry, `GET /v2/ answered ${res.status}`)
      this.#challenges.set(registry, ch)
      return ch
    })
  }

  /** The Authorization header for (registry, scope), fetching a token when needed. */
  async header(registry: string, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.#challenges.get(registry)
    if (!ch) return undefined
    const cred = this.credentialFor(registry)
    if (ch.scheme === 'basic') {
      if (!cred?.username) throw registryUnauthorized(registry, 'basic authentication required and no credentials are configured')
      return `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`
    }
    if (ch.scheme !== 'bearer') throw registryUnauthorized(registry, `unsupported auth scheme ${JSON.stringify(ch.scheme)}`)
    if (cred?.registryToken) return `Bearer ${cred.registryToken}`
    const key = `${registry}|${scope}`
    const hit = this.#tokens.get(key)
    if (hit && hit.expiresAt > this.now()) return hit.header
    const tok = await this.#tokenFlights.run(key, () => this.#fetchToken(registry, ch, scope, cred, signal))
    this.#tokens.set(key, tok)
    return tok.header
  }

  /** A request got 401: learn the new challenge and drop the cached token. */
  reject(registry: string, scope: string, res: HttpResponse): void {
    const ch = pickChallenge(res)
    if (ch) this.#challenges.set(registry, ch)
    this.#tokens.delete(`${registry}|${scope}`)
  }

  async #fetchToken(registry: string, ch: Challenge, scope: string, cred: RegistryCredential | undefined, signal?: AbortSignal): Promise<CachedToken> {
    const realm = ch.params.realm
    if (!realm) throw registryUnauthorized(registry, 'bearer challenge without a realm')
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw registryUnauthorized(registry, `bearer realm ${JSON.stringify(realm)} is not a URL`)
    }
    if (ch.params.service) url.searchParams.set('service', ch.params.service)
    for (const s of new Set([scope, ...(ch.params.scope ? ch.params.scope.split(' ') : [])])) if (s) url.searchParams.append('scope', s)
    const headers: Record<string, string> = {}
    if (cred?.username) headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}`
    this.tokenRequests++
    const res = await this.fetch({ method: 'GET', url: url.href, headers, signal })
    const body = await readCapped(res.body, TOKEN_MAX_BYTES, `token from ${url.host}`)
    if (res.status === 401 || res.status === 403) throw registryUnauthorized(registry, `token server ${url.host} refused the credentials (${res.status})`)
    if (res.status !== 200) throw registryError(registry, `token server ${url.host} answered ${res.status}`)
    let doc: { token?: string; access_token?: string; expires_in?: number; issued_at?: string }
    try {
      doc = JSON.parse(body.toString('utf8'))
    } catch {
      throw registryError(registry, `token server ${url.host} sent invalid JSON`)
    }
    const token = doc.token || doc.access_token
    if (!token) throw registryError(registry, `token server ${url.host} sent no token`)
    const ttl = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_TTL_S
    return { header: `Bearer ${token}`, expiresAt: this.now() + Math.max(1, ttl - 5) * 1000 }
  }
}

function pickChallenge(res: HttpResponse): Challenge | undefined {
  const all = parseChallenges(res.headers['www-authenticate'])
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic') ?? all[0]
}

/** Decorate a fetcher with auth for one (registry, scope): bounded to two tries. */
export function withAuth(next: Fetcher, auth: Authenticator, registry: string, scope: string): Fetcher {
  return async (req: HttpRequest) => {
    for (let attempt = 1; ; attempt++) {
      const h = await auth.header(registry, scope, req.signal)
      const res = await next(h ? { ...req, headers: { ...req.headers, authorization: h } } : req)
      if (res.status !== 401) return res
      res.body.resume()
      if (attempt >= 2) throw registryUnauthorized(registry, `${req.method} ${new URL(req.url).pathname} still unauthorized after re-authenticating`)
      auth.reject(registry, scope, res)
    }
  }
}
