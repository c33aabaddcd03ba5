import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import type { ImageRecord } from '../../../src/images/types.js'
import { realClock } from '../../../src/lib/clock.js'
import { silentLogger } from '../../../src/lib/log.js'
import { JobRepo } from '../../../src/scheduler/job-repo.js'
import { JobService } from '../../../src/scheduler/jobs.js'
import type { RuntimePort } from '../../../src/scheduler/ports.js'
import { FakeRuntime, fakeImage } from '../../helpers/fakes.js'
import type { RunSpec } from '../../../src/scheduler/types.js'
import { waitFor } from '../../helpers/wait.js'

// The runtime is faked here (no root, no crun in unit tests); the same service
// runs against real crun in test/integration/.
const image = fakeImage

const spec = (o: Partial<RunSpec> = {}): RunSpec => ({ image: 'fake', env: {}, labels: {}, limits: {}, network: { mode: 'none' }, pull: 'missing', ...o })

describe('JobService', () => {
  let dir: string
  let close: () => void
  let repo: JobRepo
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-jobs-'))
    const o = openDb(join(dir, 'state.db'))
    close = o.close
    repo = new JobRepo(o.db)
  })
  afterEach(() => {
    close()
    rmSync(dir, { recursive: true, force: true })
  })

  const make = (rt: RuntimePort, maxConcurrent = 8, resolve: (ref: string) => ImageRecord | undefined = () => image) =>
    new JobService({
      repo, runtime: rt, clock: realClock, log: silentLogger, events: new EventBus(),
      images: { pull: async () => image, resolve, lowerDirs: async () => ['/lower'] },
      logs: { pathFor: (id) => join(dir, id), remove: async () => {}, end: async () => 0 },
      limits: { maxConcurrent, maxMemory: 0, maxQueued: 1000 },
    })

  it('runs 200 jobs with at most 8 at once, each recording its own exit code', async () => {
    const rt = new FakeRuntime((s) => ({ ms: 2, exit: { exitCode: Number(s.process.args[0]) } }))
    const svc = make(rt)
    await svc.boot()
    const jobs = Array.from({ length: 200 }, (_, i) => svc.submit(spec({ cmd: [String(i % 7)] })))
    const done = await Promise.all(jobs.map((j) => svc.wait(j.id)))
    expect(rt.maxRunning).toBeLessThanOrEqual(8)
    expect(rt.maxRunning).toBeGreaterThan(1)
    done.forEach((j, i) => {
      expect(j.state).toBe('exited')
      expect(j.exitCode).toBe(i % 7)
    })
    expect(repo.events(jobs[0]!.id).map((e) => e.state)).toEqual(['queued', 'pulling', 'starting', 'running', 'exited'])
  })

  it('starts jobs in submission order, also those submitted within one millisecond (FIFO)', async () => {
    const rt = new FakeRuntime(() => ({ ms: 0, exit: {} }))
    const svc = make(rt, 1)
    await svc.boot()
    const ids = Array.from({ length: 30 }, () => svc.submit(spec()).id)
    await Promise.all(ids.map((id) => svc.wait(id)))
    expect(rt.created.map((c) => c.id.split('.')[0])).toEqual(ids)
  })

  it('maps oom and timeout exits to their states', async () => {
    const rt = new FakeRuntime((s) => ({ ms: 1, exit: s.process.args[0] === 'oom' ? { exitCode: 137, oomKilled: true } : { exitCode: 137, timedOut: true } }))
    const svc = make(rt)
    await svc.boot()
    const a = svc.submit(spec({ cmd: ['oom'] }))
    const b = svc.submit(spec({ cmd: ['slow'] }))
    expect((await svc.wait(a.id)).state).toBe('oom')
    expect((await svc.wait(b.id)).state).toBe('timed_out')
  })

  it('kills a queued job without running it, and a running one by signal', async () => {
    const rt = new FakeRuntime(() => ({ ms: 60_000, exit: {} }))
    const svc = make(rt, 1)
    await svc.boot()
    const running = svc.submit(spec())
    const queued = svc.submit(spec())
    await waitFor('the first job running', () => svc.get(running.id)!.state === 'running')
    await svc.kill(queued.id)
    expect(svc.get(queued.id)!.state).toBe('killed')
    await svc.kill(running.id, 'SIGTERM')
    const j = await svc.wait(running.id)
    expect(j).toMatchObject({ state: 'killed', signal: 'SIGTERM' })
    expect(rt.created).toHaveLength(1)
  })

  it('refuses a taken name and removing a running job without force', async () => {
    const svc = make(new FakeRuntime(() => ({ ms: 60_000, exit: {} })))
    await svc.boot()
    const j = svc.submit(spec({ name: 'web' }))
    expect(() => svc.submit(spec({ name: 'web' }))).toThrow(expect.objectContaining({ code: 'NAME_IN_USE' }))
    await waitFor('the job running', () => svc.get(j.id)!.state === 'running')
    await expect(svc.remove('web')).rejects.toMatchObject({ code: 'JOB_RUNNING' })
    await svc.remove('web', { force: true })
    expect(svc.get(j.id)).toBeUndefined()
  })

  it('fails a job whose image is absent under pull "never", naming the reason', async () => {
    const rt = new FakeRuntime(() => ({ ms: 1, exit: {} }))
    const svc = make(rt, 8, () => undefined)
    await svc.boot()
    const done = await svc.wait(svc.submit(spec({ pull: 'never' })).id)
    expect(done).toMatchObject({ state: 'failed', reason: 'IMAGE_NOT_PRESENT' })
    expect(rt.created).toHaveLength(0)
  })
})
