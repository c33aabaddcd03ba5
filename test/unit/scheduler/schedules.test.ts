import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import { silentLogger } from '../../../src/lib/log.js'
import { JobRepo } from '../../../src/scheduler/job-repo.js'
import { JobService } from '../../../src/scheduler/jobs.js'
import { isFinal } from '../../../src/scheduler/job-state.js'
import { ScheduleRepo } from '../../../src/scheduler/schedule-repo.js'
import { schedulerPort, tickJobId } from '../../../src/scheduler/schedule-runs.js'
import type { CrashPoint, ScheduleInput } from '../../../src/scheduler/schedule-types.js'
import { ScheduleService } from '../../../src/scheduler/schedules.js'
import type { Job, RunSpec } from '../../../src/scheduler/types.js'
import { FakeRuntime, fakeImage } from '../../helpers/fakes.js'
import { ManualClock } from '../../helpers/manual-clock.js'

// The real ScheduleService, JobService and SQLite, time driven by a manual
// clock; only the container runtime is a fake (unit project: no root, no crun).
// test/integration/schedules/ runs the same on a real daemon with real crun.
const job = (o: Partial<RunSpec> = {}): RunSpec => ({ image: 'fake', env: {}, labels: {}, limits: {}, network: { mode: 'none' }, pull: 'missing', ...o })
const T0 = '2026-06-01T12:00:00.000Z'
const at = (s: number) => new Date(Date.parse(T0) + s * 1000)
const tick = (iso: string | Date) => new Date(iso).toISOString()

interface World {
  clock: ManualClock
  jobs: JobService
  sched: ScheduleService
  repo: ScheduleRepo
  rt: FakeRuntime
  removedLogs: string[]
}

describe('ScheduleService', () => {
  let dir: string
  let db: ReturnType<typeof openDb>
  const live: World[] = []

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-sched-'))
    db = openDb(join(dir, 'state.db'))
  })
  afterEach(async () => {
    for (const w of live.splice(0)) {
      w.sched.stop()
      // nothing may touch the database once it is closed: end every fake container
      for (const j of w.jobs.list({ limit: 1000 }).items) if (j.state === 'running') await w.jobs.kill(j.id).catch(() => {})
      await w.jobs.shutdown()
    }
    await new Promise((r) => setTimeout(r, 20))
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A daemon's worth of services on the shared database; a second call is a restart. */
  async function world(opts: { clock?: ManualClock; maxTimerMs?: number; prepareMs?: number; crash?: (p: CrashPoint, w: World) => void } = {}): Promise<World> {
    const clock = opts.clock ?? new ManualClock(T0)
    const events = new EventBus()
    const rt = new FakeRuntime((spec) => ({ ms: spec.process.args[0] === 'sleep' ? 60_000 : 1, exit: { exitCode: spec.process.args[0] === 'fail' ? 1 : 0 } }))
    const removedLogs: string[] = []
    const jobs = new JobService({
      repo: new JobRepo(db.db), runtime: rt, clock, log: silentLogger, events,
      images: { pull: async () => fakeImage, resolve: () => fakeImage, lowerDirs: async () => ['/lower'] },
      logs: { pathFor: (id) => join(dir, id), remove: async (id) => void removedLogs.push(id), end: async () => 0 },
      limits: { maxConcurrent: 16, maxMemory: 0, maxQueued: 1000 },
    })
    await jobs.boot()
    const repo = new ScheduleRepo(db.db)
    const w = { clock, jobs, repo, rt, removedLogs } as World
    w.sched = new ScheduleService({ repo, jobs: schedulerPort(jobs), clock, log: silentLogger, events, crash: opts.crash && ((p) => opts.crash!(p, w)), stopTimeoutMs: 5000, maxTimerMs: opts.maxTimerMs, prepareMs: opts.prepareMs })
    w.sched.start()
    live.push(w)
    return w
  }
  /** Simulated kill -9: stop both services where they stand, write nothing more. */
  const crash = (w: World) => {
    w.sched.stop()
    void w.jobs.shutdown()
    throw new Error('simulated crash')
  }
  const create = (w: World, o: Partial<ScheduleInput> = {}) =>
    w.sched.create({ name: 'nightly', cron: '* * * * * *', job: job({ cmd: ['true'] }), jobRequest: { image: 'fake' }, history: { success: 100, failed: 100 }, ...o })
  const runs = (w: World, name = 'nightly') => w.sched.view(name, { runs: 1000 }).runs.map((r) => ({ tick: tick(r.scheduledTime), trigger: r.trigger, id: r.job.id })).reverse()
  const misses = (w: World, name = 'nightly') => w.sched.view(name, { misses: 1000 }).misses.map((m) => `${tick(m.scheduledTime)} ${m.outcome} ${m.reason}`).reverse()
  const settle = async (w: World) => {
    for (let k = 0; k < 50 && w.jobs.list({ limit: 1000 }).items.some((j) => !isFinal(j.state)); k++) await new Promise((r) => setTimeout(r, 5))
  }

  it('an every-second schedule over 5 s: 5 runs, one per tick, each with its scheduled time in env and labels', async () => {
    const w = await world()
    const s = create(w)
    for (let k = 1; k <= 5; k++) w.clock.advanceTo(at(k))
    await settle(w)
    expect(runs(w).map((r) => r.tick)).toEqual([1, 2, 3, 4, 5].map((k) => tick(at(k))))
    const j = w.jobs.get(runs(w)[0]!.id)!
    expect(j.id).toBe(tickJobId(s.id, at(1).getTime()))
    expect(j.spec.env).toMatchObject({ SKIFF_SCHEDULED_TIME: tick(at(1)), SKIFF_SCHEDULE: 'nightly' })
    expect(j.labels).toMatchObject({ 'skiff.schedule': 'nightly', 'skiff.scheduled-time': tick(at(1)), 'skiff.trigger': 'schedule' })
    expect(j.name).toBe(`nightly-${at(1).getTime() / 1000}`)
    expect(w.rt.created).toHaveLength(5)
  })

  describe('prepared ahead of the tick (prepareMs)', () => {
    const flush = async () => {
      for (let k = 0; k < 20; k++) await new Promise((r) => setImmediate(r))
    }

    it('the run is created a lead before its tick and started on the tick, not before', async () => {
      const w = await world({ prepareMs: 1000 })
      create(w) // at 0 s: tick 1 is a lead away already
      await flush()
      expect(w.rt.created).toHaveLength(1)
      w.clock.advanceTo(at(2).getTime() - 1001)
      await flush()
      expect(w.rt.created).toHaveLength(1)
      w.clock.advanceTo(at(2).getTime() - 1000)
      await flush()
      expect(w.rt.created).toHaveLength(2)
      expect(w.rt.started).toHaveLength(1)
      const [, r] = runs(w)
      expect(r).toMatchObject({ tick: tick(at(2)), trigger: 'schedule' })
      expect(w.jobs.get(r!.id)!.state).toBe('starting')
      // the upcoming tick is still listed as to come
      expect(w.sched.view('nightly').next[0]!.toISOString()).toBe(tick(at(2)))
      w.clock.advanceTo(at(2).getTime() - 1)
      await flush()
      expect(w.rt.started).toHaveLength(1)
      w.clock.advanceTo(at(2))
      await flush()
      expect(w.rt.started).toEqual([w.rt.created[0]!.id, w.rt.created[1]!.id])
      expect(w.jobs.get(r!.id)!.startedAt!.toISOString()).toBe(tick(at(2)))
    })

    it('forbid with a run still active: the tick is decided on its time, so a run that ends meanwhile does not cost it', async () => {
      const w = await world({ prepareMs: 1000 })
      create(w, { concurrency: 'forbid', job: job({ cmd: ['sleep'] }) })
      w.clock.advanceTo(at(1))
      await flush()
      const [first] = runs(w)
      w.clock.advanceTo(at(2).getTime() - 500) // within the lead, the first still runs: nothing decided
      await flush()
      expect(runs(w)).toHaveLength(1)
      await w.jobs.kill(first!.id, 'SIGKILL')
      await flush()
      w.clock.advanceTo(at(2))
      await flush()
      expect(runs(w).map((x) => x.tick)).toEqual([tick(at(1)), tick(at(2))])
      expect(misses(w)).toEqual([])
    })

    it('a stop while it waits for its tick: stopped, never started', async () => {
      const w = await world({ prepareMs: 1000 })
      create(w)
      w.clock.advanceTo(at(1).getTime() - 500)
      await flush()
      const [r] = runs(w)
      await w.jobs.stop(r!.id)
      await flush()
      expect(w.jobs.get(r!.id)!.state).toBe('stopped')
      w.clock.advanceTo(at(1))
      await flush()
      expect(w.rt.started).toHaveLength(0)
    })

    it('a daemon restart before the tick: the run is made again and still starts on its tick', async () => {
      const w1 = await world({ prepareMs: 1000 })
      create(w1)
      w1.clock.advanceTo(at(1).getTime() - 800)
      await flush()
      expect(w1.rt.created).toHaveLength(1)
      w1.sched.stop() // kill -9: nothing more from this one
      void w1.jobs.shutdown()
      const w2 = await world({ clock: new ManualClock(at(1).getTime() - 500), prepareMs: 1000 })
      await flush()
      expect(w2.rt.started).toHaveLength(0)
      w2.clock.advanceTo(at(1))
      await flush()
      expect(runs(w2).map((x) => x.tick)).toEqual([tick(at(1)), tick(at(2))]) // tick 2 is prepared now
      const j = w2.jobs.get(runs(w2)[0]!.id)!
      expect(j.startedAt!.toISOString()).toBe(tick(at(1)))
      expect(w2.rt.started).toHaveLength(1)
    })
  })

  it('a daily 02:30 Europe/Berlin schedule across both DST changes of 2026, driven through its timers', async () => {
    const w = await world({ clock: new ManualClock('2026-03-27T12:00:00Z'), maxTimerMs: 6 * 3_600_000 })
    create(w, { cron: '30 2 * * *', timezone: 'Europe/Berlin' })
    w.clock.advanceTo('2026-03-31T00:00:00Z')
    // Over to October in one step; with a deadline, the ticks in between (and
    // that of the 23rd, 11.5 h late) are misses, not runs.
    w.sched.update('nightly', { startingDeadlineMs: 3_600_000 })
    w.clock.set('2026-10-23T12:00:00Z')
    w.clock.advanceTo('2026-10-27T12:00:00Z')
    await settle(w)
    expect(runs(w).map((r) => r.tick)).toEqual([
      '2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', // CET, 03:00 CEST (02:30 skipped), CEST
      '2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z', '2026-10-27T01:30:00.000Z', // once on the 25th, at 02:30 CEST
    ])
  })

  it.each(['fire:before-tx', 'fire:in-tx', 'fire:after-tx'] as const)('a crash at %s leaves exactly one run per tick after the restart', async (point) => {
    let armed = true
    const w1 = await world({ crash: (p, w) => { if (armed && p === point) { armed = false; crash(w) } } })
    create(w1, { catchUp: 'all', maxCatchUp: 10, startingDeadlineMs: 60_000 })
    w1.clock.advanceTo(at(1)) // the fire of tick 1 crashes
    const committed = w1.repo.ticks(w1.sched.get('nightly')!.id).length
    expect(committed).toBe(point === 'fire:after-tx' ? 1 : 0)
    const w2 = await world({ clock: new ManualClock(at(4).getTime() + 500) }) // down for ticks 2, 3, 4
    w2.clock.advanceTo(at(6))
    await settle(w2)
    expect(runs(w2).map((r) => r.tick)).toEqual([1, 2, 3, 4, 5, 6].map((k) => tick(at(k))))
    expect(runs(w2).map((r) => r.trigger)).toEqual(['catch-up', 'catch-up', 'catch-up', 'catch-up', 'schedule', 'schedule'].map((t, k) => (k === 0 && point === 'fire:after-tx' ? 'schedule' : t)))
    expect(new Set(w2.jobs.list({ limit: 1000 }).items.map((j) => j.id)).size).toBe(6)
    expect(w2.jobs.list({ limit: 1000 }).items.every((j) => j.state === 'exited')).toBe(true)
  })

  describe('daemon down for some ticks', () => {
    const downFor = async (ticks: number, o: Partial<ScheduleInput>) => {
      const w1 = await world()
      create(w1, o)
      w1.clock.advanceTo(at(1))
      w1.sched.stop()
      await w1.jobs.shutdown()
      const w2 = await world({ clock: new ManualClock(at(1 + ticks).getTime() + 500) })
      await settle(w2)
      return w2
    }
    it('once, with a deadline that covers them: exactly one catch-up run', async () => {
      const w = await downFor(3, { catchUp: 'once', startingDeadlineMs: 10_000 })
      expect(runs(w).map((r) => `${r.tick} ${r.trigger}`)).toEqual([`${tick(at(1))} schedule`, `${tick(at(4))} catch-up`])
      expect(misses(w)).toEqual([`${tick(at(2))} missed catch-up`, `${tick(at(3))} missed catch-up`])
    })
    it('once, with a short deadline: none, and the 3 misses are visible', async () => {
      const w = await downFor(3, { catchUp: 'once', startingDeadlineMs: 100 })
      expect(runs(w).map((r) => r.tick)).toEqual([tick(at(1))])
      expect(misses(w)).toEqual([2, 3, 4].map((k) => `${tick(at(k))} missed deadline`))
      expect(w.sched.get('nightly')!.missedTotal).toBe(3)
    })
    it('all with max_catch_up 2 after 5 missed ticks: 2 runs (the oldest), 3 misses', async () => {
      const w = await downFor(5, { catchUp: 'all', maxCatchUp: 2 })
      expect(runs(w).map((r) => `${r.tick} ${r.trigger}`)).toEqual([`${tick(at(1))} schedule`, `${tick(at(2))} catch-up`, `${tick(at(3))} catch-up`])
      expect(misses(w)).toEqual([4, 5, 6].map((k) => `${tick(at(k))} missed max-catch-up`))
    })
    it('skip: no run for them, all recorded', async () => {
      const w = await downFor(3, { catchUp: 'skip' })
      expect(runs(w)).toHaveLength(1)
      expect(misses(w)).toEqual([2, 3, 4].map((k) => `${tick(at(k))} missed catch-up`))
    })
  })

  it('a wall-clock step back does not fire a tick twice; a step forward fires one run, not a burst', async () => {
    const w = await world()
    create(w)
    w.clock.advanceTo(at(3))
    w.clock.set(at(-3600)) // NTP steps back an hour
    w.clock.advance(70_000) // timers keep running meanwhile
    expect(runs(w)).toHaveLength(3)
    w.clock.set(at(3600)) // and forward two hours
    const runRows = () => w.repo.ticks(w.sched.get('nightly')!.id, { outcome: ['run'] }).length
    for (let n = 0; n < 700 && runRows() === 3; n++) w.clock.advance(100) // noticed within a minute (maxTimerMs)
    await settle(w)
    const after = runs(w).slice(3)
    expect(after).toHaveLength(1)
    const k = (Date.parse(after[0]!.tick) - Date.parse(T0)) / 1000
    expect(k).toBeGreaterThanOrEqual(3600)
    expect(k).toBeLessThanOrEqual(3660)
    expect(w.sched.get('nightly')!.missedTotal).toBe(k - 4)
  }, 30_000)

  it('forbid skips (and records) a tick while the previous run is active', async () => {
    const w = await world()
    create(w, { concurrency: 'forbid', job: job({ cmd: ['sleep'] }) })
    for (let k = 1; k <= 4; k++) {
      w.clock.advanceTo(at(k))
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(runs(w).map((r) => r.tick)).toEqual([tick(at(1))])
    expect(misses(w)).toEqual([2, 3, 4].map((k) => `${tick(at(k))} skipped forbidden`))
    expect(w.rt.maxRunning).toBe(1)
  })

  it('replace stops the old run (docker stop: SIGTERM) and starts the new one; allow runs both', async () => {
    const w = await world()
    create(w, { concurrency: 'replace', job: job({ cmd: ['sleep'] }) })
    create(w, { name: 'both', concurrency: 'allow', job: job({ cmd: ['sleep'] }) })
    w.clock.advanceTo(at(1))
    await new Promise((r) => setTimeout(r, 10))
    w.clock.advanceTo(at(2))
    const [first, second] = runs(w)
    const old = await w.jobs.wait(first!.id)
    expect(old).toMatchObject({ state: 'stopped', signal: 'SIGTERM' })
    await new Promise((r) => setTimeout(r, 10))
    expect(w.jobs.get(second!.id)!.state).toBe('running')
    expect(w.sched.view('both').active).toHaveLength(2)
  })

  it('history limits prune old finished runs with their logs', async () => {
    const w = await world()
    create(w, { history: { success: 2, failed: 1 }, job: job({ cmd: ['true'] }) })
    for (let k = 1; k <= 4; k++) {
      w.clock.advanceTo(at(k))
      await settle(w)
    }
    w.sched.update('nightly', { job: job({ cmd: ['fail'] }) })
    for (let k = 5; k <= 7; k++) {
      w.clock.advanceTo(at(k))
      await settle(w)
    }
    await new Promise((r) => setTimeout(r, 20))
    const left = w.jobs.list({ limit: 100 }).items.map((j: Job) => `${j.labels['skiff.scheduled-time']} ${j.exitCode}`).sort()
    expect(left).toEqual([`${tick(at(3))} 0`, `${tick(at(4))} 0`, `${tick(at(7))} 1`])
    expect(w.removedLogs).toHaveLength(4)
  })

  it('trigger starts a manual run, recorded as such, outside the tick key', async () => {
    const w = await world()
    create(w, { cron: '0 0 1 1 *' })
    const j = w.sched.trigger('nightly')
    w.clock.advance(1)
    const j2 = w.sched.trigger('nightly')
    expect(j.labels['skiff.trigger']).toBe('manual')
    expect(runs(w).map((r) => r.trigger)).toEqual(['manual', 'manual'])
    expect(j2.id).not.toBe(j.id)
  })

  it('suspend stops the ticks; resume starts from now and makes nothing up', async () => {
    const w = await world()
    create(w, { catchUp: 'all' })
    w.clock.advanceTo(at(1))
    w.sched.update('nightly', { suspend: true })
    w.clock.advanceTo(at(10))
    expect(w.sched.view('nightly').next).toEqual([])
    w.sched.update('nightly', { suspend: false })
    w.clock.advanceTo(at(12))
    expect(runs(w).map((r) => r.tick)).toEqual([1, 11, 12].map((k) => tick(at(k))))
    expect(w.sched.view('nightly').next.map(tick)).toEqual([13, 14, 15, 16, 17].map((k) => tick(at(k))))
  })

  it('validates before writing anything', async () => {
    const w = await world()
    const bad: [Partial<ScheduleInput>, string, string][] = [
      [{ cron: '61 * * * *' }, 'INVALID_CRON', 'cron'],
      [{ cron: '0 0 30 2 *' }, 'CRON_NEVER_FIRES', 'cron'],
      [{ timezone: 'Mars/Olympus' }, 'INVALID_TIMEZONE', 'timezone'],
      [{ name: '-bad' }, 'INVALID_ARGUMENT', 'name'],
      [{ job: job({ name: 'x' }) }, 'INVALID_ARGUMENT', 'job.name'],
      [{ job: job({ interactive: true }) }, 'INVALID_ARGUMENT', 'job.interactive'],
      [{ cron: '*/10 * * * * *', jitterMs: 10_000 }, 'INVALID_ARGUMENT', 'jitter'],
    ]
    for (const [o, code, field] of bad) expect(() => create(w, o), JSON.stringify(o)).toThrow(expect.objectContaining({ code, extra: expect.objectContaining({ field }) }))
    expect(w.sched.list()).toEqual([])
    create(w)
    expect(() => create(w)).toThrow(expect.objectContaining({ code: 'SCHEDULE_EXISTS' }))
    expect(() => w.sched.update('nightly', { timezone: 'Nowhere/Else' })).toThrow(expect.objectContaining({ code: 'INVALID_TIMEZONE' }))
    expect(w.sched.get('nightly')!.timezone).toBe('UTC')
  })

  it('delete refuses a schedule with an active run unless forced; forced, it removes the runs with their logs', async () => {
    const w = await world()
    create(w, { job: job({ cmd: ['sleep'] }) })
    w.clock.advanceTo(at(1))
    await new Promise((r) => setTimeout(r, 10))
    await expect(w.sched.remove('nightly')).rejects.toMatchObject({ code: 'SCHEDULE_HAS_ACTIVE_RUNS' })
    await w.sched.remove('nightly', { force: true })
    expect(w.sched.get('nightly')).toBeUndefined()
    expect(w.jobs.list({}).items).toEqual([])
    expect(w.removedLogs).toHaveLength(1)
    w.clock.advanceTo(at(5))
    expect(w.rt.created).toHaveLength(1)
  })
})
