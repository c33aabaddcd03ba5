import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import { createApp } from '../../../src/http/app.js'
import { Metrics } from '../../../src/http/metrics.js'
import { listen, type Listeners } from '../../../src/http/server.js'
import { silentLogger } from '../../../src/lib/log.js'
import { JobRepo, JobService, ScheduleRepo, ScheduleService, schedulerPort } from '../../../src/scheduler/index.js'
import { FakeRuntime, fakeImage } from '../../helpers/fakes.js'
import { ManualClock } from '../../helpers/manual-clock.js'

// /schedules over a real unix socket with the real services and SQLite; the
// runtime is a fake and time is a manual clock (unit project). The same API on
// a real daemon and crun: test/integration/schedules/.
let dir: string
let ls: Listeners
let closeDb: () => void
let unix: Agent
let jobs: JobService
let sched: ScheduleService
const clock = new ManualClock('2026-03-28T12:00:00Z')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-sapi-'))
  const o = openDb(join(dir, 'state.db'))
  closeDb = o.close
  const repo = new JobRepo(o.db)
  const events = new EventBus()
  jobs = new JobService({
    repo, images: { pull: async () => fakeImage, resolve: () => fakeImage, lowerDirs: async () => [] },
    runtime: new FakeRuntime((s) => ({ ms: s.process.args[0] === 'sleep' ? 60_000 : 1, exit: {} })),
    logs: { pathFor: (id) => join(dir, id), remove: async () => {}, end: async () => 0 },
    clock, log: silentLogger, events, limits: { maxConcurrent: 4, maxMemory: 0, maxQueued: 100 },
  })
  await jobs.boot()
  sched = new ScheduleService({ repo: new ScheduleRepo(o.db), jobs: schedulerPort(jobs), clock, log: silentLogger, events })
  sched.start()
  const metrics = new Metrics({ jobsByState: () => repo.countByState(), queueDepth: () => 0, running: () => 0 })
  const app = createApp({
    jobs, schedules: sched, images: {} as never, logs: { output: async () => ({ stdout: '', stderr: '', truncated: false }) }, events, metrics, log: silentLogger, token: () => 'x'.repeat(32), bodyLimit: 64 * 1024,
  })
  ls = await listen(app, { socket: join(dir, 'api.sock') })
  unix = new Agent({ connect: { socketPath: join(dir, 'api.sock') } })
})
afterAll(async () => {
  sched.stop()
  for (const j of jobs.list({ limit: 1000 }).items) if (j.state === 'running') await jobs.kill(j.id).catch(() => {})
  await jobs.shutdown()
  await ls?.close()
  await unix?.close()
  closeDb?.()
  rmSync(dir, { recursive: true, force: true })
})

const api = async (method: string, path: string, body?: unknown) => {
  const r = await request(`http://localhost${path}`, { method: method as 'GET', dispatcher: unix, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await r.body.text()
  return { status: r.statusCode, json: text ? JSON.parse(text) : undefined, location: r.headers.location }
}
const valid = { name: 'backup', cron: '30 2 * * *', timezone: 'Europe/Berlin', job: { image: 'busybox', cmd: ['echo', 'hi'] } }

describe('POST /schedules', () => {
  it('creates a schedule with the defaults and shows the next 5 fire times (DST rule applied)', async () => {
    const r = await api('POST', '/schedules', valid)
    expect(r.status).toBe(201)
    expect(r.location).toBe('/schedules/backup')
    expect(r.json).toMatchObject({
      name: 'backup', cron: '30 2 * * *', timezone: 'Europe/Berlin', concurrency: 'allow', starting_deadline: null, catch_up: 'once',
      max_catch_up: 3, history: { success: 3, failed: 1 }, suspend: false, jitter: '0s', job: valid.job, runs: [], misses: [], active: [],
    })
    // 2026-03-29 is the spring-forward day: 02:30 does not exist → 03:00 CEST
    expect(r.json.next).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z', '2026-04-01T00:30:00.000Z', '2026-04-02T00:30:00.000Z'])
  })

  it('409 for a name in use', async () => {
    const r = await api('POST', '/schedules', valid)
    expect(r.status).toBe(409)
    expect(r.json.error).toMatchObject({ code: 'SCHEDULE_EXISTS', field: 'name' })
  })

  it.each([
    [{ cron: '61 * * * *' }, 'INVALID_CRON', 'cron'],
    [{ cron: '* * *' }, 'INVALID_CRON', 'cron'],
    [{ cron: '0 0 30 2 *' }, 'CRON_NEVER_FIRES', 'cron'],
    [{ timezone: 'Europe/Atlantis' }, 'INVALID_TIMEZONE', 'timezone'],
    [{ job: undefined }, 'INVALID_ARGUMENT', 'job'],
    [{ job: { cmd: ['x'] } }, 'INVALID_ARGUMENT', 'job.image'],
    [{ job: { image: 'x', limits: { memory: '1k' } } }, 'INVALID_ARGUMENT', 'job.limits.memory'],
    [{ job: { image: 'x', name: 'fixed' } }, 'INVALID_ARGUMENT', 'job.name'],
    [{ job: { image: 'x', bogus: 1 } }, 'INVALID_ARGUMENT', 'job.bogus'],
    [{ concurrency: 'sometimes' }, 'INVALID_ARGUMENT', 'concurrency'],
    [{ catch_up: 'maybe' }, 'INVALID_ARGUMENT', 'catch_up'],
    [{ max_catch_up: 1000 }, 'INVALID_ARGUMENT', 'max_catch_up'],
    [{ starting_deadline: 'soon' }, 'INVALID_ARGUMENT', 'starting_deadline'],
    [{ history: { success: -1 } }, 'INVALID_ARGUMENT', 'history.success'],
    [{ cron: '*/5 * * * * *', jitter: '5s' }, 'INVALID_ARGUMENT', 'jitter'],
    [{ name: '../etc' }, 'INVALID_ARGUMENT', 'name'],
    [{ extra: true }, 'INVALID_ARGUMENT', 'extra'],
  ])('400 for %j: %s naming %s', async (patch, code, field) => {
    const r = await api('POST', '/schedules', { ...valid, name: 'bad', ...patch })
    expect(r.status).toBe(400)
    expect(r.json.error).toMatchObject({ code, field })
    expect((await api('GET', '/schedules/bad')).status).toBe(404)
  })
})

describe('a schedule at work', () => {
  it('fires, shows its runs with their state, and its skipped ticks', async () => {
    const c = await api('POST', '/schedules', { name: 'every', cron: '* * * * * *', concurrency: 'forbid', job: { image: 'x', cmd: ['sleep'] } })
    expect(c.status).toBe(201)
    for (let k = 1; k <= 3; k++) {
      clock.advance(1000)
      await new Promise((r) => setTimeout(r, 5))
    }
    const v = (await api('GET', '/schedules/every')).json
    expect(v.runs).toHaveLength(1)
    expect(v.runs[0]).toMatchObject({ state: 'running', trigger: 'schedule', scheduled_time: '2026-03-28T12:00:01.000Z', name: 'every-1774699201' })
    expect(v.active).toEqual([v.runs[0].id])
    expect(v.misses.map((m: { outcome: string; reason: string }) => `${m.outcome} ${m.reason}`)).toEqual(['skipped forbidden', 'skipped forbidden'])
    const runs = (await api('GET', `/jobs?label=skiff.schedule=every`)).json.items
    expect(runs.map((j: { id: string }) => j.id)).toEqual([v.runs[0].id])
  })

  it('PATCH suspends (no next times), resumes, and refuses a bad spec without changing anything', async () => {
    expect((await api('PATCH', '/schedules/every', { suspend: true })).json).toMatchObject({ suspend: true, next: [] })
    expect((await api('PATCH', '/schedules/every', { suspend: false, concurrency: 'allow' })).json).toMatchObject({ suspend: false, concurrency: 'allow' })
    const bad = await api('PATCH', '/schedules/every', { cron: '0 0 31 4 *' })
    expect(bad.json.error).toMatchObject({ code: 'CRON_NEVER_FIRES', field: 'cron' })
    expect((await api('GET', '/schedules/every')).json.cron).toBe('* * * * * *')
    expect((await api('PATCH', '/schedules/every', { starting_deadline: '90s', jitter: 0 })).json).toMatchObject({ starting_deadline: '1m30s' })
    expect((await api('PATCH', '/schedules/nope', { suspend: true })).json.error.code).toBe('SCHEDULE_NOT_FOUND')
  })

  it('trigger starts a manual run, listed with trigger manual', async () => {
    const r = await api('POST', '/schedules/backup/trigger')
    expect(r.status).toBe(201)
    expect(r.json.labels).toMatchObject({ 'skiff.schedule': 'backup', 'skiff.trigger': 'manual' })
    const v = (await api('GET', '/schedules/backup')).json
    expect(v.runs.map((x: { id: string; trigger: string }) => [x.id, x.trigger])).toEqual([[r.json.id, 'manual']])
  })

  it('lists schedules with the next fire time and active runs', async () => {
    const items = (await api('GET', '/schedules')).json.items as { name: string; next: string | null; active: number }[]
    expect(items.map((i) => i.name)).toEqual(['backup', 'every'])
    expect(items[0]!.next).toBe('2026-03-29T01:00:00.000Z')
    expect(items[1]!.active).toBe(1)
  })

  it('DELETE refuses active runs without force, then removes the schedule and its runs', async () => {
    expect((await api('DELETE', '/schedules/every')).json.error.code).toBe('SCHEDULE_HAS_ACTIVE_RUNS')
    expect((await api('DELETE', '/schedules/every?force=true')).status).toBe(204)
    expect((await api('GET', '/schedules/every')).status).toBe(404)
    expect((await api('GET', `/jobs?label=skiff.schedule=every`)).json.items).toEqual([])
  })

  it('is in the OpenAPI document', async () => {
    const doc = (await api('GET', '/openapi.json')).json
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/schedules', '/schedules/{name}', '/schedules/{name}/trigger']))
    expect(doc.paths['/schedules/{name}'].patch.requestBody).toBeDefined()
  })
})
