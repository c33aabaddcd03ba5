import type { Readable } from 'node:stream'
import { imageNotFound, registryDenied, registryError, registryUnauthorized, registryUnavailable, tooLarge } from '../errors.js'
import { MANIFEST_ACCEPT } from '../media-types.js'
import { registryHost } from '../reference.js'
import type { Descriptor, Digest, Reference } from '../types.js'
import { sha256, verifyBytes } from '../verify.js'
import { Authenticator, withAuth } from './auth.js'
import type { CredentialMap } from './credentials.js'
import { readCapped } from './read.js'
import { baseFetcher, mapBodyError, schemeFor, withRedirects, withRetry, withSchemePolicy, type Fetcher, type HttpResponse, type TransportOptions } from './transport.js'

export const MANIFEST_MAX_BYTES = 4 << 20 // Distribution and containers/image use 4 MiB
const ERROR_BODY_MAX = 64 << 10

export interface RegistryClientOptions {
  /** host[:port] entries that may be reached over plain http (loopback always may). */
  insecure?: readonly string[]
  credentials?: CredentialMap
  transport?: TransportOptions
  retries?: number
  retryDelayMs?: number
}

export interface FetchedManifest {
  bytes: Buffer
  mediaType: string | undefined
  digest: Digest
}

// Client stack, outermost first: auth (per registry+scope) → redirects (blobs only, no
// cross-host Authorization) → retry (idempotent GETs) → scheme policy → undici.
export class RegistryClient {
  readonly auth: Authenticator
  readonly #base: ReturnType<typeof baseFetcher>
  readonly #inner: Fetcher
  readonly insecure: readonly string[]
  /** Blob GETs sent (observability and tests). */
  blobRequests = 0

  constructor(readonly opts: RegistryClientOptions = {}) {
    this.insecure = opts.insecure ?? []
    this.#base = baseFetcher(opts.transport)
    this.#inner = withRetry(withSchemePolicy(this.#base.fetch, this.insecure), { attempts: opts.retries ?? 3, baseDelayMs: opts.retryDelayMs ?? 200 })
    this.auth = new Authenticator(this.#inner, opts.credentials ?? {})
  }

  close(): Promise<void> {
    return this.#base.close()
  }

  baseUrl(domain: string): string {
    const host = registryHost(domain)
    return `${schemeFor(host, this.insecure)}://${host}`
  }

  async #fetcher(ref: Reference, signal?: AbortSignal): Promise<Fetcher> {
    await this.auth.ping(ref.domain, this.baseUrl(ref.domain), signal)
    return withAuth(withRedirects(this.#inner), this.auth, ref.domain, `repository:${ref.path}:pull`)
  }

  /** GET a manifest by tag or digest (ref.digest wins), capped at 4 MiB, digest-verified
   *  when addressed by digest. */
  async getManifest(ref: Reference, opts: { signal?: AbortSignal; maxBytes?: number; digest?: Digest } = {}): Promise<FetchedManifest> {
    const max = opts.maxBytes ?? MANIFEST_MAX_BYTES
    const want = opts.digest ?? ref.digest
    const what = `manifest ${ref.domain}/${ref.path}${want ? `@${want}` : `:${ref.tag}`}`
    const f = await this.#fetcher(ref, opts.signal)
    const url = `${this.baseUrl(ref.domain)}/v2/${ref.path}/manifests/${want ?? ref.tag}`
    const res = await f({ method: 'GET', url, headers: { accept: MANIFEST_ACCEPT }, signal: opts.signal })
    if (res.status !== 200) throw await this.#error(ref, res, what)
    const len = Number(res.headers['content-length'] ?? -1)
    if (len > max) {
      res.body.destroy()
      throw tooLarge(what, max)
    }
    const bytes = await readCapped(res.body, max, what)
    let digest: Digest
    if (want) {
      verifyBytes(bytes, { digest: want, what })
      digest = want
    } else {
      digest = sha256(bytes)
      const claimed = res.headers['docker-content-digest']
      if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) verifyBytes(bytes, { digest: claimed as Digest, what })
    }
    const ct = res.headers['content-type']
    return { bytes, mediaType: typeof ct === 'string' ? ct.split(';')[0]!.trim() : undefined, digest }
  }

  /** GET a blob; the caller verifies the bytes while streaming (pull.ts tees them into
   *  the content store and the unpacker). Redirects are followed (S3/CDN style). */
  async getBlob(ref: Reference, desc: Descriptor, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const f = await this.#fetcher(ref, opts.signal)
    const url = `${this.baseUrl(ref.domain)}/v2/${ref.path}/blobs/${desc.digest}`
    this.blobRequests++
    const res = await f({ method: 'GET', url, signal: opts.signal, followRedirects: true })
    if (res.status !== 200) throw await this.#error(ref, res, `blob ${desc.digest}`)
    const body = res.body
    const bodyTimeout = this.opts.transport?.bodyTimeoutMs ?? 30_000
    // Rewrite transport errors (e.g. undici's body timeout) into SkiffErrors for the caller.
    const origDestroy = body.destroy.bind(body)
    body.destroy = ((err?: Error) => origDestroy(err ? (mapBodyError(res.url, err, bodyTimeout) as Error) : err)) as typeof body.destroy
    return body
  }

  /** GET a small blob (config) into memory, verified and capped. */
  async getBlobBytes(ref: Reference, desc: Descriptor, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<Buffer> {
    const max = opts.maxBytes ?? MANIFEST_MAX_BYTES
    const what = `blob ${desc.digest}`
    if (desc.size > max) throw tooLarge(what, max)
    const body = await this.getBlob(ref, desc, opts)
    const bytes = await readCapped(body, max, what)
    verifyBytes(bytes, { digest: desc.digest, size: desc.size, what })
    return bytes
  }

  /** Map a non-2xx answer and its distribution error JSON ({errors:[{code,message}]}). */
  async #error(ref: Reference, res: HttpResponse, what: string): Promise<Error> {
    let codes: { code?: string; message?: string }[] = []
    try {
      const body = await readCapped(res.body, ERROR_BODY_MAX, 'error body')
      codes = (JSON.parse(body.toString('utf8')) as { errors?: typeof codes }).errors ?? []
    } catch {
      res.body.destroy()
    }
    const first = codes[0]
    const msg = first ? `${first.code}: ${first.message ?? ''}`.trim() : `status ${res.status}`
    const name = `${ref.domain}/${ref.path}`
    const code = first?.code
    if (res.status === 404 || code === 'MANIFEST_UNKNOWN' || code === 'NAME_UNKNOWN' || code === 'BLOB_UNKNOWN') return imageNotFound(name, `${what}: ${msg}`)
    if (res.status === 401 || code === 'UNAUTHORIZED') return registryUnauthorized(ref.domain, `${what}: ${msg}`)
    if (res.status === 403 || code === 'DENIED') return registryDenied(ref.domain, `${what}: ${msg}`)
    if (res.status === 429 || res.status === 503 || code === 'TOOMANYREQUESTS') return registryUnavailable(ref.domain, `${what}: ${msg}`)
    if (res.status >= 300 && res.status < 400) return registryError(ref.domain, `${what}: unexpected redirect (${res.status})`)
    return registryError(ref.domain, `${what}: ${msg}`)
  }
}
