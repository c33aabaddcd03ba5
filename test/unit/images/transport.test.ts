import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Authenticator, withAuth } from '../../../src/images/registry/auth.js'
import { withRedirects, withRetry, withSchemePolicy, type Fetcher, type HttpRequest, type HttpResponse } from '../../../src/images/registry/transport.js'

// The decorators over a scripted fetcher: no sockets, every request recorded.
function scripted(answer: (req: HttpRequest, n: number) => Partial<HttpResponse> & { status: number }) {
  const seen: HttpRequest[] = []
  const fetch: Fetcher = async (req) => {
    seen.push(req)
    const a = answer(req, seen.length)
    return { headers: {}, body: Readable.from([Buffer.from(JSON.stringify({ token: `tok${seen.length}` }))]), url: req.url, ...a }
  }
  return { fetch, seen }
}

describe('withRedirects', () => {
  it('follows blob redirects, dropping Authorization when the host changes', async () => {
    const s = scripted((req) =>
      req.url.startsWith('http://127.0.0.1:5000/') ? { status: 307, headers: { location: 'http://127.0.0.2:9/blob?sig=1' } } : req.url.includes('/blob?') ? { status: 302, headers: { location: '/final' } } : { status: 200 },
    )
    const res = await withRedirects(s.fetch)({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x/blobs/d', headers: { authorization: 'Bearer secret' }, followRedirects: true })
    expect(res.status).toBe(200)
    expect(s.seen.map((r) => [r.url, r.headers?.authorization])).toEqual([
      ['http://127.0.0.1:5000/v2/x/blobs/d', 'Bearer secret'],
      ['http://127.0.0.2:9/blob?sig=1', undefined],
      ['http://127.0.0.2:9/final', undefined],
    ])
  })
  it('keeps Authorization on a same-host redirect', async () => {
    const s = scripted((_r, n) => (n === 1 ? { status: 301, headers: { location: '/v2/y' } } : { status: 200 }))
    await withRedirects(s.fetch)({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x', headers: { authorization: 'Basic a' }, followRedirects: true })
    expect(s.seen[1]!.headers?.authorization).toBe('Basic a')
  })
  it.each([
    ['file:///etc/shadow', 'REDIRECT_REFUSED'],
    ['ftp://h/x', 'REDIRECT_REFUSED'],
  ])('refuses a redirect to %s', async (loc, code) => {
    const s = scripted(() => ({ status: 302, headers: { location: loc } }))
    await expect(withRedirects(s.fetch)({ method: 'GET', url: 'http://127.0.0.1/b', followRedirects: true })).rejects.toMatchObject({ code })
  })
  it('stops after 5 hops', async () => {
    const s = scripted((_r, n) => ({ status: 302, headers: { location: `/hop${n}` } }))
    await expect(withRedirects(s.fetch)({ method: 'GET', url: 'http://127.0.0.1/b', followRedirects: true })).rejects.toMatchObject({ code: 'REDIRECT_REFUSED' })
    expect(s.seen).toHaveLength(6)
  })
  it('returns the 3xx itself when redirects are not wanted (manifests)', async () => {
    const s = scripted(() => ({ status: 302, headers: { location: '/x' } }))
    expect((await withRedirects(s.fetch)({ method: 'GET', url: 'http://127.0.0.1/m' })).status).toBe(302)
  })
})

describe('withSchemePolicy', () => {
  it.each([
    ['http://127.0.0.1:5000/v2/', [], true],
    ['https://registry.example.com/v2/', [], true],
    ['http://registry.example.com/v2/', [], false],
    ['http://registry.example.com/v2/', ['registry.example.com'], true],
  ] as const)('%s insecure=%j → allowed %s', async (url, insecure, ok) => {
    const s = scripted(() => ({ status: 200 }))
    const p = Promise.resolve().then(() => withSchemePolicy(s.fetch, insecure)({ method: 'GET', url }))
    if (ok) await expect(p).resolves.toMatchObject({ status: 200 })
    else await expect(p).rejects.toMatchObject({ code: 'INSECURE_REGISTRY' })
  })
})

describe('withRetry', () => {
  it('retries 503 a bounded number of times, then returns the answer', async () => {
    const s = scripted(() => ({ status: 503 }))
    const res = await withRetry(s.fetch, { attempts: 3, baseDelayMs: 1 })({ method: 'GET', url: 'http://127.0.0.1/' })
    expect(res.status).toBe(503)
    expect(s.seen).toHaveLength(3)
  })
  it('does not retry a 404', async () => {
    const s = scripted(() => ({ status: 404 }))
    await withRetry(s.fetch, { attempts: 3, baseDelayMs: 1 })({ method: 'GET', url: 'http://127.0.0.1/' })
    expect(s.seen).toHaveLength(1)
  })
})

describe('withAuth', () => {
  const bearer = { 'www-authenticate': 'Bearer realm="http://127.0.0.1:1/token",service="reg"' }
  it('pings once, fetches a token per scope, caches it', async () => {
    const s = scripted((req) => (req.url.includes('/token') ? { status: 200 } : req.headers?.authorization ? { status: 200 } : { status: 401, headers: bearer }))
    const auth = new Authenticator(s.fetch, {})
    await auth.ping('r', 'http://127.0.0.1:5000')
    const f = withAuth(s.fetch, auth, 'r', 'repository:x:pull')
    await f({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x/manifests/a' })
    await f({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x/manifests/b' })
    expect(auth.tokenRequests).toBe(1)
    const tokenUrl = new URL(s.seen.find((r) => r.url.includes('/token'))!.url)
    expect([tokenUrl.searchParams.get('service'), tokenUrl.searchParams.getAll('scope')]).toEqual(['reg', ['repository:x:pull']])
  })
  it('an endless 401 ends after one re-authentication with REGISTRY_UNAUTHORIZED', async () => {
    const s = scripted((req) => (req.url.includes('/token') ? { status: 200 } : { status: 401, headers: bearer }))
    const auth = new Authenticator(s.fetch, {})
    await auth.ping('r', 'http://127.0.0.1:5000')
    await expect(withAuth(s.fetch, auth, 'r', 'repository:x:pull')({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x/blobs/d' })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' })
    expect(auth.tokenRequests).toBe(2)
    expect(s.seen.filter((r) => r.url.includes('/blobs/'))).toHaveLength(2)
  })
  it('basic challenge without credentials fails clearly', async () => {
    const s = scripted(() => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } }))
    const auth = new Authenticator(s.fetch, {})
    await auth.ping('r', 'http://127.0.0.1:5000')
    await expect(withAuth(s.fetch, auth, 'r', 's')({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x' })).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' })
  })
  it('sends configured basic credentials', async () => {
    const s = scripted((req) => (req.headers?.authorization ? { status: 200 } : { status: 401, headers: { 'www-authenticate': 'Basic realm="x"' } }))
    const auth = new Authenticator(s.fetch, { r: { username: 'u', password: 'p' } })
    await auth.ping('r', 'http://127.0.0.1:5000')
    await withAuth(s.fetch, auth, 'r', 's')({ method: 'GET', url: 'http://127.0.0.1:5000/v2/x' })
    expect(s.seen.at(-1)!.headers?.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`)
  })
})
