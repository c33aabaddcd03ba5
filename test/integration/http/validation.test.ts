import { availableParallelism } from 'node:os'
import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'

// Bad requests through a real daemon: a 4xx naming the field, and no job made.
// The imported busybox image has no Cmd or Entrypoint (like `docker import`).
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const jobCount = async () => (await d.api('GET', '/jobs?limit=1000')).json.items.length as number

const waitRunning = async (id: string) => {
  for (let i = 0; i < 500; i++) {
    const j = (await d.api('GET', `/jobs/${id}`)).json
    if (j.state !== 'queued' && j.state !== 'pulling' && j.state !== 'starting') return j
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`job ${id} did not start`)
}

describe('POST /run validates everything before the job exists', () => {
  it.each([
    ['/run?wait=true&timeout=abc', { image: 'busybox', cmd: ['true'] }, 400, 'INVALID_ARGUMENT', 'timeout'],
    ['/run?wait=true&timeout=9999h', { image: 'busybox', cmd: ['true'] }, 400, 'INVALID_ARGUMENT', 'timeout'],
    ['/run?bogus=1', { image: 'busybox', cmd: ['true'] }, 400, 'INVALID_ARGUMENT', 'bogus'],
    ['/run', { image: 'busybox', cmd: ['true'], limits: { cpus: 0.0001 } }, 400, 'INVALID_ARGUMENT', 'limits.cpus'],
    ['/run', { image: 'busybox', cmd: ['true'], limits: { cpus: availableParallelism() + 1 } }, 400, 'INVALID_ARGUMENT', 'limits.cpus'],
    ['/run', { image: 'busybox', cmd: ['true'], limits: { timeout: '99999999h' } }, 400, 'INVALID_ARGUMENT', 'limits.timeout'],
    ['/run', { image: 'busybox', cmd: ['true'], limits: { memory: '99999999999t' } }, 400, 'INVALID_ARGUMENT', 'limits.memory'],
    ['/run', { image: 'Busybox', cmd: ['true'] }, 400, 'INVALID_REFERENCE', 'image'],
    ['/run', { image: 'busybox:', cmd: ['true'] }, 400, 'INVALID_REFERENCE', 'image'],
    ['/run', { image: 'busybox' }, 400, 'NO_COMMAND', 'cmd'],
    ['/run', { image: 'not-here', pull: 'never', cmd: ['true'] }, 422, 'IMAGE_NOT_PRESENT', 'image'],
    ['/run', { image: 'busybox', cmd: ['true'], env: { BIG: 'x'.repeat(200_000) } }, 400, 'INVALID_ARGUMENT', 'env.BIG'],
    ['/run', { image: 'busybox', cmd: ['echo', 'y'.repeat(200_000)] }, 400, 'INVALID_ARGUMENT', 'cmd'],
  ])('%s %j → %d %s naming %s, and no job', async (path, body, status, code, field) => {
    const before = await jobCount()
    const r = await d.api('POST', path, body)
    expect(r.status, r.text).toBe(status)
    expect(r.json.error).toMatchObject({ code, field })
    expect(await jobCount()).toBe(before)
  })

  it('the smallest CPU share the kernel takes (0.01) runs', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max', limits: { cpus: 0.01 } })
    expect(r.json, r.text).toMatchObject({ state: 'exited', exitCode: 0 })
    expect(r.json.stdout).toMatch(/^1000\b/)
  })

  it('a name equal to another job\'s id is refused', async () => {
    const a = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })
    const before = await jobCount()
    const r = await d.api('POST', '/run', { image: 'busybox', cmd: ['true'], name: a.json.id })
    expect(r.status).toBe(409)
    expect(r.json.error).toMatchObject({ code: 'NAME_IN_USE', field: 'name' })
    expect(await jobCount()).toBe(before)
  })
})

describe('kill signals', () => {
  it('an unknown signal or number is a 400 naming the field, and the job keeps running', async () => {
    const j = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'] })).json
    await waitRunning(j.id)
    for (const signal of ['SIGFOO', '99', 99, 0, 'RTMIN+40']) {
      const r = await d.api('POST', `/jobs/${j.id}/kill`, { signal })
      expect(r.status, `${signal}: ${r.text}`).toBe(400)
      expect(r.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'signal' })
    }
    expect((await d.api('GET', `/jobs/${j.id}`)).json.state).toBe('running')
    expect((await d.api('POST', `/jobs/${j.id}/kill`, { signal: 9 })).status).toBe(202)
    expect((await d.api('POST', `/jobs/${j.id}/wait?timeout=20s`)).json).toMatchObject({ state: 'killed', signal: 'SIGKILL' })
  })

  it.each([['TERM'], ['15'], [15], ['sigterm']])('signal %j reaches a job that traps SIGTERM', async (signal) => {
    const j = (await d.api('POST', '/run', { image: 'busybox', cmd: 'trap "exit 42" TERM; echo ready; while true; do sleep 0.05; done' })).json
    await waitRunning(j.id)
    // the trap is set once "ready" is out
    for (let i = 0; i < 500 && !(await d.api('GET', `/jobs/${j.id}/logs`)).text.includes('ready'); i++) await new Promise((r) => setTimeout(r, 20))
    expect((await d.api('POST', `/jobs/${j.id}/kill`, { signal })).status).toBe(202)
    expect((await d.api('POST', `/jobs/${j.id}/wait?timeout=20s`)).json).toMatchObject({ exitCode: 42 })
  })

  it('a real-time signal by name reaches the job', async () => {
    const j = (await d.api('POST', '/run', { image: 'busybox', cmd: 'trap "exit 7" RTMIN+2 2>/dev/null || trap "exit 7" 36; echo ready; while true; do sleep 0.05; done' })).json
    await waitRunning(j.id)
    for (let i = 0; i < 500 && !(await d.api('GET', `/jobs/${j.id}/logs`)).text.includes('ready'); i++) await new Promise((r) => setTimeout(r, 20))
    expect((await d.api('POST', `/jobs/${j.id}/kill`, { signal: 'SIGRTMIN+2' })).status).toBe(202)
    expect((await d.api('POST', `/jobs/${j.id}/wait?timeout=20s`)).json).toMatchObject({ exitCode: 7 })
  })
})

describe('exec validates before it runs', () => {
  it.each([
    [{ cmd: ['true'], timeout: 'soon' }, 'timeout'],
    [{ cmd: ['true'], timeout: '9999h' }, 'timeout'],
    [{ cmd: ['true'], env: { BIG: 'x'.repeat(200_000) } }, 'env.BIG'],
  ])('%j → 400 naming %s', async (body, field) => {
    const j = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'] })).json
    await waitRunning(j.id)
    const r = await d.api('POST', `/jobs/${j.id}/exec`, body)
    expect(r.status, r.text).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field })
    await d.api('POST', `/jobs/${j.id}/kill`)
  })
})

describe('job id prefixes', () => {
  it('every /jobs/:id route takes a unique id prefix (any case) or the name; an ambiguous prefix is 409 listing the matches', async () => {
    const a = (await d.api('POST', '/run', { image: 'busybox', cmd: 'echo from-a; sleep 1000', name: 'prefix-a' })).json
    const b = (await d.api('POST', '/run', { image: 'busybox', cmd: ['true'] })).json
    await waitRunning(a.id)
    const prefix = (a.id as string).slice(0, 16).toLowerCase()
    expect((await d.api('GET', `/jobs/${prefix}`)).json.id).toBe(a.id)
    expect((await d.api('GET', `/jobs/prefix-a`)).json.id).toBe(a.id)
    expect((await d.api('GET', `/jobs/${prefix}/events`)).status).toBe(200)
    for (let i = 0; i < 500 && !(await d.api('GET', `/jobs/${prefix}/logs`)).text.includes('from-a'); i++) await new Promise((r) => setTimeout(r, 20))
    expect((await d.api('GET', `/jobs/${prefix}/logs`)).text).toBe('from-a\n')
    expect((await d.api('POST', `/jobs/${prefix}/exec`, { cmd: ['echo', 'in'] })).json).toMatchObject({ exitCode: 0, stdout: 'in\n' })

    // ULIDs made in the same run share their leading (time) characters
    let common = 0
    while (a.id[common] === b.id[common]) common++
    const amb = await d.api('GET', `/jobs/${(a.id as string).slice(0, common)}`)
    expect(amb.status).toBe(409)
    expect(amb.json.error).toMatchObject({ code: 'AMBIGUOUS_JOB_ID', field: 'id' })
    expect(amb.json.error.message).toContain(a.id)
    expect(amb.json.error.message).toContain(b.id)
    expect((await d.api('GET', '/jobs/0ZZZZZZZZZ')).json.error.code).toBe('JOB_NOT_FOUND')

    // the WebSocket routes resolve the same way, and refuse an ambiguous prefix before the upgrade
    const ws = await import('ws')
    const follow = new ws.default(`ws://127.0.0.1:${d.port}/jobs/${prefix}/logs/ws`, { headers: { authorization: `Bearer ${d.token}` } })
    const first = await new Promise<string>((resolve, reject) => {
      follow.once('message', (m) => resolve(JSON.parse(m.toString()).data))
      follow.once('error', reject)
    })
    expect(first).toBe('from-a\n')
    follow.close()
    const refused = new ws.default(`ws://127.0.0.1:${d.port}/jobs/${(a.id as string).slice(0, common)}/logs/ws`, { headers: { authorization: `Bearer ${d.token}` } })
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      refused.once('error', () => resolve(-1))
    })
    expect(status).toBe(409)

    expect((await d.api('POST', `/jobs/${prefix}/kill`)).status).toBe(202)
    expect((await d.api('POST', `/jobs/${prefix}/wait?timeout=20s`)).json).toMatchObject({ id: a.id, state: 'killed' })
    expect((await d.api('DELETE', `/jobs/${prefix}`)).status).toBe(204)
    expect((await d.api('GET', `/jobs/${a.id}`)).status).toBe(404)
  })
})
