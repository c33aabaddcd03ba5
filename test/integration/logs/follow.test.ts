// Real conmon + crun containers writing real k8s-file logs, read through a real
// HTTP server and real WebSocket clients.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { request } from 'undici'
import WebSocket from 'ws'
import { beforeAll, describe, expect, it } from 'vitest'
import { type LogStore } from '../../../src/logs/index.js'
import { pseudoRandom, sha256 } from './blob.js'
import { useLogsFixture, type LogsFixture } from './fixture.js'
import { JobTable, TOKEN } from './server.js'
import { wsFollow, wsFollowWithCuts } from './ws-client.js'

const MB = 1_000_000
const blob = pseudoRandom(100 * MB)
const blobSum = sha256(blob)

const { fx, job } = useLogsFixture('skiff-logs-it-', blob)
let logs: LogStore
let jobs: JobTable
let srv: LogsFixture['srv']
beforeAll(() => {
  ;({ logs, jobs, srv } = fx)
})



const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await request(srv.base + path, { headers: { authorization: `Bearer ${TOKEN}`, ...headers } })
  return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()) }
}
const ndjson = (b: Buffer) => b.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l))
const bytesOf = (m: { data?: string; data64?: string }) => (m.data64 !== undefined ? Buffer.from(m.data64, 'base64') : Buffer.from(m.data ?? '', 'utf8'))

describe('logs with real containers', () => {
  it('100 MB of pseudo-random bytes reach a WebSocket follower with the same checksum', async () => {
    const { id } = await job('cat /data/blob')
    const t0 = performance.now()
    const r = await wsFollow(srv.port, id)
    const ms = performance.now() - t0
    console.log(`100 MB container → WS client: ${ms.toFixed(0)} ms, ${(100 / (ms / 1000)).toFixed(0)} MB/s`)
    expect(r.exit).toEqual({ exitCode: 0, signal: null, state: 'exited' })
    expect(r.bytes).toBe(blob.length)
    expect(r.gaps + r.dups).toBe(0)
    expect(r.sha256).toBe(blobSum)
  })

  it('the same after 5 disconnects at random points, resuming from the last offset', async () => {
    const { id } = await job('cat /data/blob')
    // disconnect after these many bytes of each connection (deterministic "random" points)
    const r = await wsFollowWithCuts(srv.port, id, [7_340_033, 15_000_017, 3_000_001, 21_474_836, 9_999_991])
    expect(r.exit).toMatchObject({ exitCode: 0 })
    expect(r.gaps + r.dups).toBe(0)
    expect(r.bytes).toBe(blob.length)
    expect(r.sha256).toBe(blobSum)
  })

  it('interleaved stdout/stderr keep per-stream order (NDJSON, follow)', async () => {
    const { id } = await job('i=0; while [ $i -lt 3000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done')
    const r = await get(`/jobs/${id}/logs?follow=true`, { accept: 'application/x-ndjson' })
    expect(r.status).toBe(200)
    const msgs = ndjson(r.body)
    expect(msgs[msgs.length - 1]).toEqual({ exit: { exitCode: 0, signal: null, state: 'exited' } })
    const by = { stdout: '', stderr: '' } as Record<string, string>
    let next = 0
    for (const m of msgs.slice(0, -1)) {
      expect(m.offset).toBe(next)
      next = m.offset + bytesOf(m).length
      by[m.stream] += bytesOf(m).toString()
    }
    const want = (p: string) => Array.from({ length: 3000 }, (_, i) => `${p} ${i}\n`).join('')
    expect(by.stdout).toBe(want('out'))
    expect(by.stderr).toBe(want('err'))
  })

  it('tail=10 returns the last 10 lines; stream filter; plain text', async () => {
    const { id, c } = await job('seq 1 1000; echo oops >&2')
    await c.exited
    const r = await get(`/jobs/${id}/logs?tail=10&stream=stdout`)
    expect(r.body.toString()).toBe(Array.from({ length: 10 }, (_, i) => `${991 + i}\n`).join(''))
    expect((await get(`/jobs/${id}/logs?tail=1`)).body.toString()).toBe('oops\n')
    expect((await get(`/jobs/${id}/logs?stream=stderr`)).body.toString()).toBe('oops\n')
    const ts = (await get(`/jobs/${id}/logs?tail=2&timestamps=true`)).body.toString()
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 1000\n\d{4}-.*Z oops\n$/)
  })

  it('since filters by time (RFC3339 and durations)', async () => {
    const { id, c } = await job('echo before; sleep 1.5; echo after')
    await c.exited
    const all = ndjson((await get(`/jobs/${id}/logs`, { accept: 'application/x-ndjson' })).body)
    expect(all.map((m) => m.data)).toEqual(['before\n', 'after\n'])
    const mid = new Date((Date.parse(all[0].time) + Date.parse(all[1].time)) / 2).toISOString()
    expect((await get(`/jobs/${id}/logs?since=${mid}`)).body.toString()).toBe('after\n')
    expect((await get(`/jobs/${id}/logs?since=1h`)).body.toString()).toBe('before\nafter\n')
    expect((await get(`/jobs/${id}/logs?since=${new Date(Date.now() + 60_000).toISOString()}`)).body.toString()).toBe('')
  })

  it('a follower attached after the job ended gets everything, then the exit', async () => {
    const { id, c } = await job('printf "one\\ntwo\\nno newline"; exit 7')
    expect(await c.exited).toBe(7)
    const r = await wsFollow(srv.port, id, { keep: true })
    expect(Buffer.concat(r.perStream.stdout).toString()).toBe('one\ntwo\nno newline')
    expect(r.exit).toEqual({ exitCode: 7, signal: null, state: 'exited' })
    const h = await get(`/jobs/${id}/logs?follow=true&from=4`)
    expect(h.body.toString()).toBe('two\nno newline')
  })

  it('50 concurrent WebSocket followers on one chatty job receive identical streams', async () => {
    const { id } = await job('seq 1 300000; seq 1 1000 >&2')
    const want = createHash('sha256')
    for (let i = 1; i <= 300000; i++) want.update(`${i}\n`)
    const rs = await Promise.all(Array.from({ length: 50 }, () => wsFollow(srv.port, id, { keep: true })))
    const wantOut = want.digest('hex')
    for (const r of rs) {
      expect(r.gaps + r.dups).toBe(0)
      expect(sha256(Buffer.concat(r.perStream.stdout))).toBe(wantOut)
      expect(Buffer.concat(r.perStream.stderr).toString()).toBe(Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join(''))
      expect(r.sha256).toBe(rs[0]!.sha256)
      expect(r.exit).toMatchObject({ exitCode: 0 })
    }
  })

  it('HTTP errors: unknown job 404, bad query 400 naming the field', async () => {
    expect((await get('/jobs/nope/logs')).status).toBe(404)
    expect(JSON.parse((await get('/jobs/nope/logs')).body.toString()).error.code).toBe('JOB_NOT_FOUND')
    const { id } = await job('true')
    for (const [qs, field] of [['tail=x', 'tail'], ['from=-1', 'from'], ['stream=both', 'stream'], ['since=yesterday', 'since'], ['bogus=1', 'bogus']] as const) {
      const r = await get(`/jobs/${id}/logs?${qs}`)
      expect(r.status, qs).toBe(400)
      expect(JSON.parse(r.body.toString()).error.field).toBe(field)
    }
  })

  it('WebSocket auth: 401 without credentials; the token only in the header, else a single-use ticket (query or subprotocol)', async () => {
    const { id } = await job('echo hi')
    const status = (url: string, o: WebSocket.ClientOptions = {}, protocols: string[] = []) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, protocols, o)
        ws.on('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()))
        ws.on('open', () => (resolve(101), ws.close()))
        ws.on('error', () => {})
      })
    const u = `ws://127.0.0.1:${srv.port}/jobs/${id}/logs/ws`
    expect(await status(u)).toBe(401)
    expect(await status(u, { headers: { authorization: `Bearer ${TOKEN}` } })).toBe(101)
    // the long-lived token is refused anywhere but the Authorization header
    expect(await status(`${u}?token=${TOKEN}`)).toBe(401)
    expect(await status(u, {}, [`bearer.${TOKEN}`])).toBe(401)
    const t = srv.ticket()
    expect(await status(`${u}?ticket=${t}`)).toBe(101)
    expect(await status(`${u}?ticket=${t}`)).toBe(401) // single use
    expect(await status(u, {}, ['skiff.logs.v1', `ticket.${srv.ticket()}`])).toBe(101)
    expect(await status(`${u}?ticket=made-up`)).toBe(401)
    expect(await status(`ws://127.0.0.1:${srv.port}/jobs/nope/logs/ws?ticket=${srv.ticket()}`)).toBe(404)
  })

  it('multiplexed /ws follows several jobs on one socket', async () => {
    const a = await job('seq 1 500')
    const b = await job('seq 501 800 >&2; exit 2')
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws?ticket=${srv.ticket()}`)
    const got: Record<string, string> = { [a.id]: '', [b.id]: '' }
    const exits: Record<string, unknown> = {}
    await new Promise((r) => ws.once('open', r))
    ws.send(JSON.stringify({ subscribe: a.id }))
    ws.send(JSON.stringify({ subscribe: b.id, from: 0 }))
    ws.send(JSON.stringify({ subscribe: 'nope' }))
    let err: unknown
    await new Promise<void>((resolve) =>
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString())
        if (m.error) err = m
        else if (m.exit) exits[m.job] = m.exit
        else got[m.job] += bytesOf(m).toString()
        if (Object.keys(exits).length === 2) resolve()
      }),
    )
    ws.close()
    expect(err).toMatchObject({ job: 'nope', error: { code: 'JOB_NOT_FOUND' } })
    expect(got[a.id]).toBe(Array.from({ length: 500 }, (_, i) => `${i + 1}\n`).join(''))
    expect(got[b.id]).toBe(Array.from({ length: 300 }, (_, i) => `${i + 501}\n`).join(''))
    expect(exits[b.id]).toMatchObject({ exitCode: 2 })
  })
})
