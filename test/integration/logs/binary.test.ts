// The binary WebSocket frame mode (?format=binary) with real conmon + crun
// containers, a real server and real ws clients.
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeFrame } from '../../../src/logs/frame.js'
import { type LogStore } from '../../../src/logs/index.js'
import { pseudoRandom, sha256 } from './blob.js'
import { useLogsFixture, type LogsFixture } from './fixture.js'
import { JobTable, startLogServer, TOKEN } from './server.js'
import { wsFollow, wsFollowWithCuts } from './ws-client.js'

const MB = 1_000_000
const blob = pseudoRandom(100 * MB, 0x5eed1234)
const blobSum = sha256(blob)
// Backpressure waits must not pile up listeners on the socket or the abort signal.
const warnings: string[] = []
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
process.on('warning', onWarning)

const { fx, job } = useLogsFixture('skiff-logs-bin-', blob)
let logs: LogStore
let jobs: JobTable
let srv: LogsFixture['srv']
beforeAll(() => {
  ;({ logs, jobs, srv } = fx)
})

afterAll(async () => {
  process.off('warning', onWarning)
})

describe('binary WebSocket frames (?format=binary)', () => {
  it('100 MB of pseudo-random bytes arrive with the same checksum, as binary frames of ≤ 256 KiB', async () => {
    const { id } = await job('cat /data/blob')
    const t0 = performance.now()
    const r = await wsFollow(srv.port, id, { format: 'binary' })
    const ms = performance.now() - t0
    console.log(`100 MB container → WS client (binary): ${ms.toFixed(0)} ms, ${(100 / (ms / 1000)).toFixed(0)} MB/s, ${r.frames.binary} frames`)
    expect(r.exit).toEqual({ exitCode: 0, signal: null, state: 'exited' })
    expect(r.frames.text).toBe(0)
    // merged: far fewer messages than conmon's ~400k lines, and none over the cap
    expect(r.frames.binary).toBeGreaterThanOrEqual(Math.ceil(blob.length / (256 * 1024)))
    expect(r.frames.binary).toBeLessThan(20_000)
    expect(r.bytes).toBe(blob.length)
    expect(r.gaps + r.dups).toBe(0)
    expect(r.sha256).toBe(blobSum)
  })

  it('resumes mid-stream from an offset: 5 disconnects while the job runs, alternating binary and JSON, no gap or duplicate', async () => {
    const { id } = await job('cat /data/blob')
    const r = await wsFollowWithCuts(srv.port, id, [5_000_011, 17_000_023, 2_000_003, 23_000_009, 11_111_117], ['binary', 'json', 'binary', 'json', 'binary', 'binary'])
    expect(r.exit).toMatchObject({ exitCode: 0 })
    expect(r.gaps + r.dups).toBe(0)
    expect(r.bytes).toBe(blob.length)
    expect(r.sha256).toBe(blobSum)
    expect(r.frames.binary).toBeGreaterThan(0)
    expect(r.frames.text).toBeGreaterThan(0)
  })

  it('from= an exact offset inside a record after the job ended gives exactly the rest; per-stream order and times survive', async () => {
    const { id, c } = await job('i=0; while [ $i -lt 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; printf tail')
    await c.exited
    const all = await wsFollow(srv.port, id, { format: 'binary', keep: true })
    const want = (p: string) => Array.from({ length: 2000 }, (_, i) => `${p} ${i}\n`).join('')
    expect(Buffer.concat(all.perStream.stdout).toString()).toBe(want('out') + 'tail')
    expect(Buffer.concat(all.perStream.stderr).toString()).toBe(want('err'))
    expect(all.exit).toMatchObject({ exitCode: 0 })
    // a stream filter: merged frames never mix streams, offsets stay those of the whole output
    const err = await wsFollow(srv.port, id, { format: 'binary', keep: true, stream: 'stderr' })
    expect(Buffer.concat(err.perStream.stderr).toString()).toBe(want('err'))
    expect(err.perStream.stdout).toEqual([])
    expect(err.gaps).toBeGreaterThan(0) // the stdout bytes in between are skipped, not renumbered
    const total = all.bytes
    for (const from of [1, 7, 12_345, total - 2, total]) {
      const r = await wsFollow(srv.port, id, { from, format: 'binary' })
      expect(r.bytes, `from=${from}`).toBe(total - from)
      expect(r.gaps + r.dups).toBe(0)
      expect(r.exit).toMatchObject({ exitCode: 0 })
    }
  })

  it('multiplexed /ws?format=binary tags each frame with its job; exits stay JSON', async () => {
    const a = await job('seq 1 20000')
    const b = await job('seq 1 500 >&2; exit 3')
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws?format=binary`, { headers: { authorization: `Bearer ${TOKEN}` } })
    await new Promise((r) => ws.once('open', r))
    const got: Record<string, Buffer[]> = { [a.id]: [], [b.id]: [] }
    const next: Record<string, number> = { [a.id]: 0, [b.id]: 0 }
    const exits: Record<string, unknown> = {}
    ws.send(JSON.stringify({ subscribe: a.id }))
    ws.send(JSON.stringify({ subscribe: b.id }))
    await new Promise<void>((resolve, reject) =>
      ws.on('message', (raw: Buffer, isBinary) => {
        if (isBinary) {
          const f = decodeFrame(raw)
          if (f.job === undefined || !(f.job in got)) return reject(new Error(`frame for ${f.job}`))
          if (f.offset !== next[f.job]) return reject(new Error(`gap in ${f.job}: ${f.offset} != ${next[f.job]}`))
          next[f.job] = f.offset + f.data.length
          got[f.job]!.push(Buffer.from(f.data))
          return
        }
        const m = JSON.parse(raw.toString())
        if (m.exit) exits[m.job] = m.exit
        if (Object.keys(exits).length === 2) resolve()
      }),
    )
    ws.close()
    expect(Buffer.concat(got[a.id]!).toString()).toBe(Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join(''))
    expect(Buffer.concat(got[b.id]!).toString()).toBe(Array.from({ length: 500 }, (_, i) => `${i + 1}\n`).join(''))
    expect(exits[b.id]).toMatchObject({ exitCode: 3 })
  })

  it('a tiny high-water mark: every frame waits for the socket to drain, bytes stay exact, no listener leak', async () => {
    const small = await startLogServer(logs, jobs, { highWaterMark: 16 * 1024 })
    try {
      const { id } = await job('head -c 20000000 /data/blob')
      for (const format of ['binary', 'json'] as const) {
        const r = await wsFollow(small.port, id, { format })
        expect(r.bytes).toBe(20 * MB)
        expect(r.sha256).toBe(sha256(blob.subarray(0, 20 * MB)))
        expect(r.gaps + r.dups).toBe(0)
      }
    } finally {
      await small.close()
    }
    await new Promise((r) => setImmediate(r))
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([])
  })

  it('an unknown format is refused before the upgrade (400 naming the field)', async () => {
    const { id } = await job('true')
    const res = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/jobs/${id}/logs/ws?format=xml`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ws.on('unexpected-response', (_req, r) => {
        let body = ''
        r.on('data', (d: Buffer) => (body += d))
        r.on('end', () => (resolve({ status: r.statusCode ?? 0, body }), ws.terminate()))
      })
      ws.on('error', () => {})
    })
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body).error.field).toBe('format')
  })
})
