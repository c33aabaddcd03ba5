import { request } from 'undici'
import WebSocket from 'ws'
import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../helpers/daemon.js'

// The API token over TCP goes in the Authorization header only: never in a URL
// (shell history, proxy and access logs). WebSocket upgrades from browsers use a
// single-use ticket minted by an authenticated POST instead.
const daemon = useBusyboxDaemon()
let d: TestDaemon
let base: string
beforeAll(() => {
  d = daemon()
  base = `http://127.0.0.1:${d.port}`
})

const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await request(`${base}${path}`, { headers })
  const text = await r.body.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined // /metrics is text
  }
  return { status: r.statusCode, json }
}
const upgrade = (url: string, o: WebSocket.ClientOptions = {}, protocols: string[] = []) =>
  new Promise<number>((resolve) => {
    const ws = new WebSocket(url, protocols, o)
    ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()))
    ws.on('open', () => (resolve(101), ws.close()))
    ws.on('error', () => {})
  })
const mint = async () => {
  const r = await request(`${base}/auth/tickets`, { method: 'POST', headers: { authorization: `Bearer ${d.token}` } })
  expect(r.statusCode).toBe(201)
  return ((await r.body.json()) as { ticket: string; ttlSeconds: number }).ticket
}

describe('token transport over TCP', () => {
  it('?token= is refused on every HTTP route (was 200), the Authorization header works', async () => {
    for (const path of ['/images', '/jobs', '/metrics', '/schedules']) {
      const q = await get(`${path}?token=${encodeURIComponent(d.token)}`)
      expect([path, q.status]).toEqual([path, 401])
      expect(q.json.error.code).toBe('UNAUTHENTICATED')
      expect(q.json.error.message).toContain('Authorization header')
      expect([path, (await get(path, { authorization: `Bearer ${d.token}` })).status]).toEqual([path, 200])
    }
    expect((await get('/healthz')).status).toBe(200)
  })

  it('POST /auth/tickets needs the header; a ticket opens exactly one WebSocket, the token in its URL none', async () => {
    const unauth = await request(`${base}/auth/tickets`, { method: 'POST' })
    expect(unauth.statusCode).toBe(401)
    await unauth.body.text()
    const job = (await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['echo', 'hi'] })).json
    const u = `ws://127.0.0.1:${d.port}/jobs/${job.id}/logs/ws`
    expect(await upgrade(u)).toBe(401)
    expect(await upgrade(`${u}?token=${encodeURIComponent(d.token)}`)).toBe(401)
    expect(await upgrade(u, {}, [`bearer.${d.token}`])).toBe(401)
    expect(await upgrade(u, { headers: { authorization: `Bearer ${d.token}` } })).toBe(101)
    const t = await mint()
    expect(await upgrade(`${u}?ticket=${t}`)).toBe(101)
    expect(await upgrade(`${u}?ticket=${t}`)).toBe(401)
    expect(await upgrade(u, {}, [`ticket.${await mint()}`])).toBe(101)
    // a ticket opens the multiplexed socket too, and a made-up one nothing
    expect(await upgrade(`ws://127.0.0.1:${d.port}/ws?ticket=${await mint()}`)).toBe(101)
    expect(await upgrade(`ws://127.0.0.1:${d.port}/ws?ticket=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)).toBe(401)
  })

  it('over the unix socket no token is needed, and a ticket can be minted there too', async () => {
    const r = await d.api('POST', '/auth/tickets')
    expect(r.status).toBe(201)
    expect(r.json).toMatchObject({ ticket: expect.any(String), ttlSeconds: 30 })
  })
})
