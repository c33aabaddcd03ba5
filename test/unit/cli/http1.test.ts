import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttp, type Server } from 'node:http'
import { createServer as createNet } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConnectionError, readText, request1 } from '../../../src/cli/http1.js'

// The CLI's small HTTP/1.1 client against Node's own HTTP server (and a raw socket
// server for byte-exact framing), on unix sockets in a temp dir.
let dir: string
let server: Server
let sock: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-http1-'))
  sock = join(dir, 'http.sock')
  server = createHttp(async (req, res) => {
    const url = new URL(req.url!, 'http://x')
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    if (url.pathname === '/json') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body: body.toString(), te: req.headers['transfer-encoding'] ?? null, auth: req.headers.authorization ?? null }))
    if (url.pathname === '/stream') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      for (let i = 0; i < 500; i++) res.write(`{"n":${i}}\n`)
      return void res.end()
    }
    if (url.pathname === '/empty') return void res.writeHead(204).end()
    if (url.pathname === '/error') return void res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"X"}}')
    if (url.pathname === '/big') return void res.end(Buffer.alloc(3 * 1024 * 1024, 0x61))
    res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(sock, r))
})
afterAll(async () => {
  await new Promise((r) => server.close(r))
  rmSync(dir, { recursive: true, force: true })
})

describe('request1', () => {
  it('sends a JSON body with its length and reads a Content-Length response', async () => {
    const r = await request1({ socketPath: sock }, { method: 'POST', path: '/json', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer t' }, body: '{"a":"é"}' })
    expect(r.status).toBe(200)
    expect(JSON.parse(await readText(r.body))).toEqual({ method: 'POST', body: '{"a":"é"}', te: null, auth: 'Bearer t' })
  })
  it('streams a chunked response in order', async () => {
    const r = await request1({ socketPath: sock }, { method: 'GET', path: '/stream' })
    expect(r.headers['transfer-encoding']).toBe('chunked')
    const lines = (await readText(r.body)).trim().split('\n').map((l) => JSON.parse(l).n)
    expect(lines).toEqual(Array.from({ length: 500 }, (_, i) => i))
  })
  it('uploads a stream chunked', async () => {
    const parts = Array.from({ length: 100 }, (_, i) => Buffer.from(`part${i};`))
    const r = await request1({ socketPath: sock }, { method: 'PUT', path: '/json', body: Readable.from(parts) })
    expect(JSON.parse(await readText(r.body))).toMatchObject({ body: parts.join(''), te: 'chunked' })
  })
  it('no body for 204; error statuses come back as responses', async () => {
    const e = await request1({ socketPath: sock }, { method: 'DELETE', path: '/empty' })
    expect(e.status).toBe(204)
    expect(await readText(e.body)).toBe('')
    const b = await request1({ socketPath: sock }, { method: 'GET', path: '/error' })
    expect([b.status, await readText(b.body)]).toEqual([400, '{"error":{"code":"X"}}'])
  })
  it('holds a large body to the reader\'s pace and delivers all of it', async () => {
    const r = await request1({ socketPath: sock }, { method: 'GET', path: '/big' })
    let n = 0
    for await (const c of r.body) {
      n += (c as Buffer).length
      await new Promise((res) => setImmediate(res))
    }
    expect(n).toBe(3 * 1024 * 1024)
  })
  it('a socket nobody listens on is a ConnectionError naming the errno', async () => {
    await expect(request1({ socketPath: join(dir, 'nope.sock') }, { method: 'GET', path: '/' })).rejects.toSatisfy((e) => e instanceof ConnectionError && e.code === 'ENOENT')
  })
  it('an abort ends the request', async () => {
    const ac = new AbortController()
    const p = request1({ socketPath: sock }, { method: 'GET', path: '/big', signal: ac.signal })
    ac.abort()
    await expect(p).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('decodes chunked framing however the bytes are split (extensions, trailers)', async () => {
    const raw = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\na\r\nworld\r\n\r\n!\r\n0\r\nX-Trailer: y\r\n\r\n')
    for (const step of [1, 2, 3, 7, raw.length]) {
      const p = join(dir, `raw-${step}.sock`)
      const srv = createNet((c) => {
        c.on('error', () => {})
        c.once('data', async () => {
          for (let i = 0; i < raw.length; i += step) {
            c.write(raw.subarray(i, i + step))
            await new Promise((r) => setImmediate(r))
          }
          c.end()
        })
      })
      await new Promise<void>((r) => srv.listen(p, r))
      const r = await request1({ socketPath: p }, { method: 'GET', path: '/' })
      expect([step, r.headers['x-a'], await readText(r.body)]).toEqual([step, '1', 'hello world\r\n\r\n!'])
      await new Promise((r) => srv.close(r))
    }
  })
})
