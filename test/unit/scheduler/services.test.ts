import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import type { ImageRecord } from '../../../src/images/types.js'
import { SkiffError } from '../../../src/lib/errors.js'
import { silentLogger } from '../../../src/lib/log.js'
import { JobRepo } from '../../../src/scheduler/job-repo.js'
import type { JobState } from '../../../src/scheduler/job-state.js'
import { JobService } from '../../../src/scheduler/jobs.js'
import type { Job, RunSpec } from '../../../src/scheduler/types.js'
import { fakeImage } from '../../helpers/fakes.js'
import { advanceSettled, clockSession, flush, ManualClock, nextTimer, pendingDelays } from '../../helpers/manual-clock.js'
import { ScriptedRuntime } from '../../helpers/scripted-runtime.js'

// Restart policies, stops, healthchecks and live-restore, with time driven by a
// ManualClock and containers ended by the test (no root or crun in unit tests;
// test/integration/scheduler/ runs the same service on real crun).

const spec = (o: Partial<RunSpec> = {}): RunSpec => ({ image: 'fake', env: {}, labels: {}, limits: {}, network: { mode: 'none' }, pull: 'missing', ...o })

describe('services: restarts, stops, health, live-restore', () => {
  let dir: string
  let close: () => void
  let repo: JobRepo
  let clock: ManualClock
  let rt: ScriptedRuntime
  let events: EventBus
  let svc: JobService
  let image: ImageRecord
  let pull: () => Promise<ImageRecord>
  let crash: () => void

  /** A daemon on the shared database, containers and time. The one before it is
   *  killed -9 first: its timers and container handles go dead, nothing is shut down. */
  const make = async () => {
    crash?.()
    events = new EventBus()
    const c = clockSession(clock)
    const r = rt.session()
    crash = () => (c.crash(), r.crash())
    const s = new JobService({
      repo, runtime: r.port, clock: c.clock, log: silentLogger, events, random: () => 0.5,
      images: { pull: () => pull(), resolve: () => undefined, lowerDirs: async () => ['/lower'] },
      logs: { pathFor: (id) => join(dir, id), remove: async () => {}, end: async () => 0 },
      limits: { maxConcurrent: 8, maxMemory: 0, maxQueued: 1000 },
    })
    await s.boot()
    return s
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-svc-'))
    const o = openDb(join(dir, 'state.db'))
    close = o.close
    repo = new JobRepo(o.db)
    clock = new ManualClock(Date.UTC(2026, 0, 1))
    rt = new ScriptedRuntime(clock)
    image = fakeImage
    pull = async () => image
    svc = await make()
  })
  afterEach(() => {
    close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Resolves when the job reaches `state` (already there: at once). */
  const reach = (id: string, state: JobState) =>
    new Promise<Job>((resolve) => {
      const j = repo.get(id)!
      if (j.state === state) return resolve(j)
      const on = (x: Job) => {
        if (x.id === id && x.state === state) {
          events.off('job.state', on)
          resolve(x)
        }
      }
      events.on('job.state', on)
    })
  const running = async (id: string, n: number) => {
    const c = await rt.nth(n)
    await reach(id, 'running')
    return c
  }

  it('on-failure:3 on exit 1: exactly 3 restarts with growing delays, then exited with 4 attempts', async () => {
    const job = svc.submit(spec({ restart: { mode: 'on-failure', maxRetries: 3 } }))
    const delays: number[] = []
    for (let n = 1; n <= 4; n++) {
      const c = await running(job.id, n)
      expect(c.id).toBe(`${job.id}.${n}`)
      c.exit({ exitCode: 1 })
      if (n === 4) break
      const b = await reach(job.id, 'backoff')
      const delay = b.nextAttemptAt!.getTime() - clock.now().getTime()
      delays.push(delay)
      await advanceSettled(clock, delay - 1)
      expect(rt.containers).toHaveLength(n) // not a moment early
      await advanceSettled(clock, 1)
    }
    const done = await svc.wait(job.id)
    expect(delays).toEqual([100, 200, 400])
    expect(done).toMatchObject({ state: 'exited', exitCode: 1, restarts: 3, failures: 3, attempt: 4 })
    const attempts = svc.attempts(job.id)
    expect(attempts.map((a) => [a.n, a.containerId, a.state, a.exitCode])).toEqual([1, 2, 3, 4].map((n) => [n, `${job.id}.${n}`, 'exited', 1]))
    expect(svc.events(job.id).filter((e) => e.state === 'backoff').map((e) => e.detail)).toEqual([
      'restart 1 in 100 ms (exit 1)', 'restart 2 in 200 ms (exit 1)', 'restart 3 in 400 ms (exit 1)',
    ])
    expect(pendingDelays(clock)).toEqual([])
  })

  it('on-failure leaves a successful exit alone', async () => {
    const job = svc.submit(spec({ restart: { mode: 'on-failure' } }))
    ;(await running(job.id, 1)).exit({ exitCode: 0 })
    expect(await svc.wait(job.id)).toMatchObject({ state: 'exited', exitCode: 0, restarts: 0 })
    expect(pendingDelays(clock)).toEqual([])
  })

  it('always: keeps restarting with capped backoff; a long enough run resets the delay', async () => {
    const backoff = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0, resetAfterMs: 10_000 }
    const job = svc.submit(spec({ restart: { mode: 'always' }, backoff }))
    const delays: number[] = []
    for (let n = 1; n <= 7; n++) {
      const c = await running(job.id, n)
      if (n === 7) await advanceSettled(clock, 10_000) // this one runs long
      c.exit({ exitCode: n === 3 ? 0 : 2 })
      const b = await reach(job.id, 'backoff')
      delays.push(b.nextAttemptAt!.getTime() - clock.now().getTime())
      await nextTimer(clock)
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 100])
    await running(job.id, 8)
    expect(svc.get(job.id)).toMatchObject({ state: 'running', restarts: 7 })
  })

  it('a user kill (SIGKILL) is never restarted, even under always', async () => {
    const job = svc.submit(spec({ restart: { mode: 'always' } }))
    await running(job.id, 1)
    await svc.kill(job.id)
    expect(await svc.wait(job.id)).toMatchObject({ state: 'killed', signal: 'SIGKILL', restarts: 0 })
    expect(pendingDelays(clock)).toEqual([])
  })

  it('stop: the image\'s StopSignal first, SIGKILL after the timeout for a job that ignores it; nothing left', async () => {
    image = { ...fakeImage, config: { ...fakeImage.config, StopSignal: 'SIGQUIT' } }
    rt.ignores = ['SIGQUIT']
    const job = svc.submit(spec({ restart: { mode: 'always' } }))
    const c = await running(job.id, 1)
    const stopped = svc.stop(job.id, { timeoutMs: 5000 })
    await flush()
    expect(c.signals).toEqual(['SIGQUIT'])
    await advanceSettled(clock, 4999)
    expect(c.ended).toBe(false)
    await advanceSettled(clock, 1)
    const j = await stopped
    expect(c.signals).toEqual(['SIGQUIT', 'SIGKILL'])
    expect(j).toMatchObject({ state: 'stopped', signal: 'SIGKILL', stoppedByUser: true, stopDeadline: null })
    await flush()
    expect(c.removed).toBe(true)
    expect(pendingDelays(clock)).toEqual([])
  })

  it('stop of a queued or backing-off job needs no container; start brings it back with a fresh budget', async () => {
    const job = svc.submit(spec({ restart: { mode: 'on-failure', maxRetries: 1 } }))
    ;(await running(job.id, 1)).exit({ exitCode: 1 })
    await reach(job.id, 'backoff')
    expect((await svc.stop(job.id)).state).toBe('stopped')
    expect(pendingDelays(clock)).toEqual([]) // the backoff timer is gone
    const again = svc.start(job.id)
    expect(again).toMatchObject({ state: 'queued', failures: 0, stoppedByUser: false })
    ;(await running(job.id, 2)).exit({ exitCode: 1 })
    await reach(job.id, 'backoff') // the budget of 1 was reset by the start
    await nextTimer(clock)
    ;(await running(job.id, 3)).exit({ exitCode: 1 })
    expect(await svc.wait(job.id)).toMatchObject({ state: 'exited', attempt: 3 })
  })

  it('restart: stops the running attempt and starts a new one', async () => {
    const job = svc.submit(spec())
    const c1 = await running(job.id, 1)
    const p = svc.restart(job.id, { timeoutMs: 1000 })
    const c2 = await running(job.id, 2)
    await p
    expect(c1.signals).toEqual(['SIGTERM'])
    expect(c2.started).toBe(true)
    expect(svc.attempts(job.id).map((a) => a.state)).toEqual(['stopped', 'running'])
  })

  it('update changes the policy of an existing job from its next exit', async () => {
    const job = svc.submit(spec())
    const c = await running(job.id, 1)
    svc.update(job.id, { restart: { mode: 'always' } })
    c.exit({ exitCode: 0 })
    await reach(job.id, 'backoff')
    await nextTimer(clock)
    await running(job.id, 2)
  })

  it('platform failures retry without consuming the budget; caller errors do not retry', async () => {
    let pulls = 0
    pull = async () => {
      if (++pulls <= 2) throw new SkiffError('upstream', 'REGISTRY_UNAVAILABLE', 'registry down')
      return image
    }
    const job = svc.submit(spec({ restart: { mode: 'on-failure', maxRetries: 1 } }))
    await reach(job.id, 'backoff')
    await nextTimer(clock)
    await reach(job.id, 'backoff')
    await nextTimer(clock)
    ;(await running(job.id, 1)).exit({ exitCode: 1 })
    await reach(job.id, 'backoff')
    await nextTimer(clock)
    ;(await running(job.id, 2)).exit({ exitCode: 1 })
    const done = await svc.wait(job.id)
    expect(done).toMatchObject({ state: 'exited', exitCode: 1, attempt: 4, failures: 1, restarts: 3 })
    expect(svc.attempts(job.id).map((a) => [a.state, a.reason])).toEqual([['failed', 'REGISTRY_UNAVAILABLE'], ['failed', 'REGISTRY_UNAVAILABLE'], ['exited', null], ['exited', null]])

    pull = async () => {
      throw new SkiffError('not_found', 'IMAGE_NOT_FOUND', 'no such image')
    }
    const bad = svc.submit(spec({ restart: { mode: 'always' } }))
    expect(await svc.wait(bad.id)).toMatchObject({ state: 'failed', reason: 'IMAGE_NOT_FOUND', restarts: 0 })
  })

  it('healthcheck: 3 failures make it unhealthy; on_unhealthy restart brings a new attempt that turns healthy', async () => {
    let failing = true
    rt.exec = () => ({ exitCode: failing ? 1 : 0, stdout: failing ? 'down' : 'up', stderr: '' })
    const healthcheck = { test: ['check'], intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 0, startIntervalMs: 100 }
    const job = svc.submit(spec({ healthcheck, onUnhealthy: 'restart', stopTimeoutMs: 2000 }))
    const c1 = await running(job.id, 1)
    expect(svc.get(job.id)!.health).toMatchObject({ status: 'starting' })
    await advanceSettled(clock, 2000)
    expect(svc.get(job.id)!.health).toMatchObject({ status: 'starting', failingStreak: 2 })
    expect(c1.signals).toEqual([])
    await advanceSettled(clock, 1000)
    await reach(job.id, 'backoff')
    expect(c1.signals).toEqual(['SIGTERM'])
    expect(svc.attempts(job.id)[0]).toMatchObject({ state: 'exited', reason: 'unhealthy' })
    failing = false
    await nextTimer(clock)
    await running(job.id, 2)
    await advanceSettled(clock, 1000)
    const j = svc.get(job.id)!
    expect(j.health).toMatchObject({ status: 'healthy', failingStreak: 0 })
    expect(j.health!.log.at(-1)).toMatchObject({ exitCode: 0, output: 'up' })
    expect(j.restarts).toBe(1)
    expect(j.failures).toBe(0) // unhealthy restarts do not use on-failure's budget
  })

  it('the image\'s HEALTHCHECK applies unless the job disables it', async () => {
    image = { ...fakeImage, config: { ...fakeImage.config, Healthcheck: { Test: ['CMD', 'probe'], Interval: 1e9 } } }
    const a = svc.submit(spec())
    const ca = await running(a.id, 1)
    const b = svc.submit(spec({ healthcheck: 'none' }))
    const cb = await running(b.id, 2)
    await advanceSettled(clock, 1000)
    expect(ca.execs).toEqual([['probe']])
    expect(cb.execs).toEqual([])
    expect(svc.get(a.id)!.health?.status).toBe('healthy')
    expect(svc.get(b.id)!.health).toBeNull()
  })

  describe('live-restore: a new daemon on the same database and containers', () => {
    it('re-adopts a running service: same container, no extra attempt; its later crash is restarted', async () => {
      const job = svc.submit(spec({ restart: { mode: 'always' } }))
      const c = await running(job.id, 1)
      // the old daemon is gone without a word (kill -9): nothing is shut down
      svc = await make()
      await flush()
      expect(rt.containers).toHaveLength(1)
      expect(svc.get(job.id)).toMatchObject({ state: 'running', attempt: 1 })
      c.exit({ exitCode: 3 })
      await reach(job.id, 'backoff')
      await nextTimer(clock)
      await running(job.id, 2)
      expect(svc.attempts(job.id).map((a) => [a.state, a.exitCode])).toEqual([['exited', 3], ['running', null]])
    })

    it('a container that died while the daemon was down: the exit is recorded and the policy restarts it', async () => {
      const job = svc.submit(spec({ restart: { mode: 'on-failure' } }))
      const c = await running(job.id, 1)
      // the exit happened, but no daemon saw it: the database still says running
      crash()
      c.exit({ exitCode: null, signal: 'SIGKILL' })
      svc = await make()
      await reach(job.id, 'backoff')
      expect(svc.attempts(job.id)[0]).toMatchObject({ state: 'exited', signal: 'SIGKILL' })
      await nextTimer(clock)
      await running(job.id, 2)
    })

    it('a job killed -9 while starting, its container gone: retried (the workload never ran), uncounted', async () => {
      rt.onStart = () => {
        // the daemon dies inside the start; the runtime kept nothing
        crash()
        for (const c of rt.containers) c.removed = true
      }
      const job = svc.submit(spec())
      await rt.nth(1)
      await flush()
      rt.onStart = undefined
      expect(repo.get(job.id)!.state).toBe('starting')
      svc = await make()
      ;(await running(job.id, 2)).exit({ exitCode: 0 })
      expect(await svc.wait(job.id)).toMatchObject({ state: 'exited', exitCode: 0, attempt: 2, failures: 0 })
      expect(svc.attempts(job.id).map((a) => [a.state, a.reason])).toEqual([['failed', 'daemon-restart'], ['exited', null]])
    })

    it('unless-stopped stays stopped; always comes back', async () => {
      const a = svc.submit(spec({ restart: { mode: 'unless-stopped' } }))
      const b = svc.submit(spec({ restart: { mode: 'always' } }))
      await running(a.id, 1)
      await running(b.id, 2)
      rt.ignores = []
      await Promise.all([svc.stop(a.id), svc.stop(b.id)])
      await svc.shutdown()
      svc = await make()
      await running(b.id, 3)
      expect(svc.get(a.id)!.state).toBe('stopped')
      expect(svc.get(b.id)).toMatchObject({ state: 'running', attempt: 2 })
    })

    it('a backoff timer is re-armed from the recorded time', async () => {
      const job = svc.submit(spec({ restart: { mode: 'always' }, backoff: { initialMs: 5000, maxMs: 5000, factor: 1, jitter: 0, resetAfterMs: 10_000 } }))
      ;(await running(job.id, 1)).exit({ exitCode: 1 })
      await reach(job.id, 'backoff')
      await advanceSettled(clock, 2000)
      await svc.shutdown()
      svc = await make()
      expect(pendingDelays(clock)).toEqual([3000])
      await advanceSettled(clock, 3000)
      await running(job.id, 2)
    })

    it('a stop under way when the daemon died is finished on its old deadline', async () => {
      rt.ignores = ['SIGTERM']
      const job = svc.submit(spec())
      const c = await running(job.id, 1)
      void svc.stop(job.id, { timeoutMs: 4000 })
      await flush()
      await advanceSettled(clock, 1000)
      svc = await make()
      await advanceSettled(clock, 2999)
      expect(c.ended).toBe(false)
      await advanceSettled(clock, 1)
      expect(await svc.wait(job.id)).toMatchObject({ state: 'stopped', signal: 'SIGKILL' })
    })
  })
})
