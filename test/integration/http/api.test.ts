import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importBusybox, removeDataDir, startDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { waitFor } from '../../helpers/wait.js'

// A real daemon process: real crun via conmon, real overlayfs, SQLite on disk,
// unix socket and loopback TCP.
let d: TestDaemon

beforeAll(async () => {
  d = await startDaemon({ maxConcurrent: 8 })
  await importBusybox(d)
}, 120_000)

afterAll(async () => {
  await d?.stop()
  if (d) removeDataDir(d.dataDir)
})

const maxOverlap = (jobs: { startedAt: string; finishedAt: string }[]) => {
  const ev = jobs.flatMap((j) => [[Date.parse(j.startedAt), 1], [Date.parse(j.finishedAt), -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let cur = 0
  let max = 0
  for (const [, dlt] of ev) max = Math.max(max, (cur += dlt))
  return max
}

describe('POST /run end to end', () => {
  it('runs echo and answers with exit code and output; the job survives a daemon restart', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['echo', 'hi'] })
    expect(r.status, r.text).toBe(200)
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'hi\n', stderr: '' })
    expect(r.json.usage.wallMs).toBeGreaterThanOrEqual(0)
    expect(r.json.usage.wallMs).toBeLessThan(5000)
    const list = await d.api('GET', '/jobs')
    expect(list.json.items.map((j: { id: string }) => j.id)).toContain(r.json.id)
    await d.stop()
    await d.restart()
    const again = await d.api('GET', `/jobs/${r.json.id}`)
    expect(again.json).toMatchObject({ id: r.json.id, state: 'exited', exitCode: 0, usage: r.json.usage })
  })

  it('returns output without a trailing newline, and stdin data reaches the job', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'printf hi' })
    expect(r.json).toMatchObject({ exitCode: 0, stdout: 'hi' })
    const s = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['wc', '-c'], stdin: 'hello\n' })
    expect(s.json).toMatchObject({ exitCode: 0, stdout: '6\n' })
  })

  it('reports exit codes, stderr and signals', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'echo oops >&2; exit 3' })
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 3, stderr: 'oops\n' })
    // pid 1 ignores its own signals, so the kill comes from outside, as a user's would
    const s = await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100'] })
    await waitFor('the job running', async () => (await d.api('GET', `/jobs/${s.json.id}`)).json.state === 'running')
    expect((await d.api('POST', `/jobs/${s.json.id}/kill`, { signal: 'SIGKILL' })).status).toBe(202)
    const k = await d.api('POST', `/jobs/${s.json.id}/wait`)
    expect(k.json).toMatchObject({ state: 'killed', exitCode: null, signal: 'SIGKILL' })
    // as pid 1 the job only dies of SIGTERM if it handles it (docker's behaviour without --init)
    const t = await d.api('POST', '/run', { image: 'busybox', cmd: 'trap "exit 42" TERM; echo trapped; while true; do sleep 0.05; done' })
    await waitFor('the trap installed', async () => (await d.api('GET', `/jobs/${t.json.id}/logs`)).text === 'trapped\n')
    await d.api('POST', `/jobs/${t.json.id}/kill`, { signal: 'TERM' })
    expect((await d.api('POST', `/jobs/${t.json.id}/wait?timeout=10s`)).json).toMatchObject({ state: 'killed', exitCode: 42 })
  })

  it('TCP needs the token; the unix socket does not', async () => {
    const base = `http://127.0.0.1:${d.port}`
    const none = await request(`${base}/jobs`)
    expect(none.statusCode).toBe(401)
    await none.body.text()
    const wrong = await request(`${base}/jobs`, { headers: { authorization: 'Bearer nope' } })
    expect(wrong.statusCode).toBe(401)
    await wrong.body.text()
    const ok = await request(`${base}/jobs`, { headers: { authorization: `Bearer ${d.token}` } })
    expect(ok.statusCode).toBe(200)
    await ok.body.text()
  })

  it('names the bad field', async () => {
    const r = await d.api('POST', '/run', { image: 'busybox', limits: { memory: 'huge' } })
    expect(r.status).toBe(400)
    expect(r.json.error.field).toBe('limits.memory')
  })

  it('a missing image: pull is 422, a run fails naming the reason', async () => {
    const p = await d.api('POST', '/images/pull', { image: '127.0.0.1:1/nothing/here:latest' })
    expect([422, 502, 503]).toContain(p.status)
    const r = await d.api('POST', '/run?wait=true', { image: 'not-local-image', pull: 'never' })
    expect(r.status).toBe(422)
    expect(r.json.error).toMatchObject({ code: 'IMAGE_NOT_PRESENT', field: 'image' })
  })

  it('runs 200 jobs with at most 8 at once, every exit code right', async () => {
    const ids = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const r = await d.api('POST', '/run', { image: 'busybox', cmd: `exit ${i % 5}`, labels: { batch: 'b200' } })
        expect(r.status, r.text).toBe(201)
        return r.json.id as string
      }),
    )
    const done = await Promise.all(ids.map((id) => d.api('POST', `/jobs/${id}/wait`).then((r) => r.json)))
    done.forEach((j, i) => expect(j).toMatchObject({ state: 'exited', exitCode: i % 5 }))
    const overlap = maxOverlap(done)
    expect(overlap).toBeLessThanOrEqual(8)
    expect(overlap).toBeGreaterThan(1)
  }, 180_000)
})

describe('POST /run?follow=true (a foreground run in one round trip)', () => {
  it('answers 201 with NDJSON: the job, its output as the logs follow sends it, then the exit', async () => {
    const r = await d.raw('POST', '/run?follow=true', { body: JSON.stringify({ image: 'busybox', cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'] }), headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } })
    expect(r.statusCode).toBe(201)
    expect(String(r.headers['content-type'])).toContain('application/x-ndjson')
    const lines = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l))
    expect(lines[0].job).toMatchObject({ image: 'busybox', cmd: ['sh', '-c', 'echo out; echo err >&2; exit 4'] })
    expect(r.headers.location).toBe(`/jobs/${lines[0].job.id}`)
    const out = lines.slice(1, -1)
    expect(out.filter((l) => l.stream === 'stdout').map((l) => l.data).join('')).toBe('out\n')
    expect(out.filter((l) => l.stream === 'stderr').map((l) => l.data).join('')).toBe('err\n')
    expect(lines.at(-1)).toEqual({ exit: expect.objectContaining({ exitCode: 4, state: 'exited' }) })
  })

  it('is refused with wait=true, before any job exists', async () => {
    const before = (await d.api('GET', '/jobs?limit=1000')).json.items.length
    const r = await d.api('POST', '/run?follow=true&wait=true', { image: 'busybox', cmd: ['true'] })
    expect(r.status).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'follow' })
    expect((await d.api('POST', '/run?follow=maybe', { image: 'busybox', cmd: ['true'] })).status).toBe(400)
    expect((await d.api('GET', '/jobs?limit=1000')).json.items.length).toBe(before)
  })
})

describe('kill -9 of the daemon', () => {
  it('loses no job: running ones are re-adopted and end truthfully', async () => {
    const ids: string[] = []
    // each held until released by a file (exec after the restart): running across the kill, however slow the machine
    for (let i = 0; i < 5; i++) {
      const r = await d.api('POST', '/run', { image: 'busybox', cmd: `echo up; while [ ! -f /tmp/go ]; do usleep 10000; done; exit ${i}` })
      ids.push(r.json.id)
    }
    const queued = (await d.api('POST', '/run', { image: 'busybox', cmd: 'exit 7' })).json.id as string
    await waitFor('all five jobs running', async () => {
      const logs = await Promise.all(ids.map((id) => d.api('GET', `/jobs/${id}/logs`).then((r) => r.text)))
      return logs.every((l) => l === 'up\n')
    })
    await d.kill9()
    await d.restart()
    for (const id of ids) expect((await d.api('POST', `/jobs/${id}/exec`, { cmd: ['touch', '/tmp/go'] })).status).toBe(200)
    for (const [i, id] of ids.entries()) {
      const j = (await d.api('POST', `/jobs/${id}/wait?timeout=40s`)).json
      const events = (await d.api('GET', `/jobs/${id}/events`)).json
      expect(j, JSON.stringify({ j, events })).toMatchObject({ state: 'exited', exitCode: i })
    }
    expect((await d.api('POST', `/jobs/${queued}/wait?timeout=20s`)).json).toMatchObject({ state: 'exited', exitCode: 7 })
  }, 120_000)

  it('gives memory back once quiet: a full GC and malloc_trim after the last job (skiff_memory_reclaims_total)', async () => {
    const reclaims = async () => Number(/^skiff_memory_reclaims_total (\d+)/m.exec((await d.api('GET', '/metrics')).text)?.[1])
    const before = await reclaims()
    expect(before).toBeGreaterThanOrEqual(0) // the counter is there (NaN fails)
    for (let i = 0; i < 3; i++) expect((await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })).json.exitCode).toBe(0)
    // counted only when there is something to run it with (gc under --expose-gc, or the addon's mallocTrim; the bundle test checks the flag)
    await waitFor('an idle reclaim after the jobs', async () => (await reclaims()) > before)
  }, 60_000)
})
