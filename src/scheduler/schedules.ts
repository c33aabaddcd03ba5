import { ulid } from 'ulid'
import type { EventBus } from '../events.js'
import type { Clock } from '../lib/clock.js'
import { invalidArgument, isSkiffError, SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { parseCron, type CronSpec } from './cron-spec.js'
import { nextTick, nextTicks } from './cron.js'
import { decideConcurrency, dueTicks, jitterMs } from './due-ticks.js'
import { scheduleNotFound, type ScheduleRepo } from './schedule-repo.js'
import { runSpecFor, runsToPrune, tickJobId } from './schedule-runs.js'
import { SCHEDULE_DEFAULTS, type CrashPoint, type Schedule, type ScheduleInput, type SchedulePatch, type ScheduleRun, type SchedulerPort, type ScheduleSpec, type TickRecord, type TickTrigger } from './schedule-types.js'
import { checkTimeZone } from './tz.js'
import type { Job } from './types.js'

export interface ScheduleServiceDeps {
  repo: ScheduleRepo
  jobs: SchedulerPort
  clock: Clock
  log: Logger
  events: EventBus
  /** Test hook: called at the named points of the fire path (daemon.ts: SKIFF_TEST_CRASH_AT). */
  crash?: (point: CrashPoint) => void
  /** Re-evaluate at least this often, so a wall-clock step is noticed (default 60 s). */
  maxTimerMs?: number
  /** replace: how long a replaced run gets between SIGTERM and SIGKILL (default 10 s, docker's). */
  stopTimeoutMs?: number
  /** Decide a tick this long before its time and submit its run with `notBefore`:
   *  the image, rootfs and container are ready ahead and the run only starts at
   *  the tick (0 or absent: decided at the tick). At most 1 s (the shortest period). */
  prepareMs?: number
}

export interface ScheduleView {
  schedule: Schedule
  next: Date[]
  active: string[]
  runs: ScheduleRun[]
  misses: TickRecord[]
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/
const TICK_ROWS_KEPT = 1000

export const activeRuns = (name: string, ids: string[]) =>
  new SkiffError('conflict', 'SCHEDULE_HAS_ACTIVE_RUNS', `schedule ${JSON.stringify(name)} has ${ids.length} active run(s) (${ids.join(', ')}); stop them or delete with force`)

/** Cron triggers. Each tick is decided by dueTicks (pure) and written once:
 *  a run's tick row is inserted in the transaction that inserts its job (whose
 *  id is derived from the tick), a tick that will not run gets its row with the
 *  reason, and the schedule's cursor moves with them. Timers come from Clock
 *  and only wake the evaluation: what fires is decided from SQLite and `now`,
 *  so a lost, early or late timer, a restart or a clock step cannot fire a tick
 *  twice. */
export class ScheduleService {
  readonly #d: ScheduleServiceDeps
  readonly #timers = new Map<string, { cancel(): void }>()
  readonly #armedAt = new Map<string, number>()
  readonly #specs = new Map<string, { key: string; spec: CronSpec }>()
  #started = false
  readonly #onFinal = (job: Job) => {
    const sid = this.#d.repo.scheduleOfJob(job.id)
    if (sid) queueMicrotask(() => void this.#prune(sid))
  }

  constructor(deps: ScheduleServiceDeps) {
    this.#d = deps
  }

  // ---- queries --------------------------------------------------------------
  list(): Schedule[] {
    return this.#d.repo.list()
  }

  get(name: string): Schedule | undefined {
    return this.#d.repo.getByName(name)
  }

  /** Every schedule with its next fire time and number of active runs. */
  overview(): { schedule: Schedule; next: Date | undefined; active: number }[] {
    const now = this.#d.clock.now().getTime()
    return this.#d.repo.list().map((s) => ({
      schedule: s,
      next: s.suspended ? undefined : new Date(nextTick(this.#spec(s), s.timezone, nextFrom(now, s.cursor))),
      active: this.#d.repo.activeRuns(s.id).length,
    }))
  }

  mustGet(name: string): Schedule {
    const s = this.get(name)
    if (!s) throw scheduleNotFound(name)
    return s
  }

  view(name: string, opts: { runs?: number; misses?: number } = {}): ScheduleView {
    const s = this.mustGet(name)
    const from = nextFrom(this.#d.clock.now().getTime(), s.cursor)
    const runs = this.#d.repo.runs(s.id, opts.runs ?? 20).flatMap((r) => {
      const job = this.#d.jobs.get(r.jobId)
      return job ? [{ job, trigger: r.trigger, scheduledTime: r.scheduledTime }] : []
    })
    return {
      schedule: s,
      next: s.suspended ? [] : nextTicks(this.#spec(s), s.timezone, from, 5),
      active: this.#d.repo.activeRuns(s.id),
      runs,
      misses: this.#d.repo.ticks(s.id, { outcome: ['missed', 'skipped'], limit: opts.misses ?? 20 }),
    }
  }

  // ---- commands -------------------------------------------------------------
  create(input: ScheduleInput): Schedule {
    if (!NAME_RE.test(input.name ?? '')) throw invalidArgument('name', 'must match [A-Za-z0-9][A-Za-z0-9_.-]{0,99}')
    const now = this.#d.clock.now()
    const spec = this.#validate({ ...SCHEDULE_DEFAULTS, ...strip(input), cron: input.cron }, input.job, now.getTime())
    const s = this.#d.repo.insert({
      ...spec, id: ulid(now.getTime()), name: input.name, job: input.job, jobRequest: input.jobRequest, suspended: !!input.suspend,
      cursor: now, createdAt: now, updatedAt: now,
    })
    this.#rearm(s.id, now.getTime())
    return s
  }

  /** Change the spec, the job, or suspend/resume. A new cron, zone or jitter and
   *  a resume start counting from now: nothing "missed" under the old spec or
   *  while suspended fires (unlike Kubernetes, whose resume without a deadline
   *  starts the missed runs at once). */
  update(name: string, patch: SchedulePatch): Schedule {
    const cur = this.mustGet(name)
    const now = this.#d.clock.now()
    const merged: Schedule = { ...cur, ...strip(patch), suspended: patch.suspend ?? cur.suspended }
    Object.assign(merged, this.#validate(merged, merged.job, now.getTime()))
    const restart = merged.cron !== cur.cron || merged.timezone !== cur.timezone || merged.jitterMs !== cur.jitterMs || (cur.suspended && !merged.suspended)
    if (restart && merged.cursor < now) merged.cursor = now
    const s = this.#d.repo.update(merged, now)
    if (restart) this.#rearm(s.id, now.getTime())
    else this.#evaluateSoon(s.id)
    return s
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const s = this.mustGet(name)
    const active = this.#d.repo.activeRuns(s.id)
    if (active.length && !opts.force) throw activeRuns(name, active)
    this.#disarm(s.id)
    const runs = this.#d.repo.allRunIds(s.id)
    this.#d.repo.delete(s.id)
    // The schedule is gone first (nothing fires any more), then its runs and their logs.
    for (const id of runs) await this.#d.jobs.remove(id, { force: true }).catch((err) => this.#d.log.warn({ err, job: id }, 'removing a run of a deleted schedule failed'))
  }

  /** A run now, outside the spec: recorded as a manual tick; the concurrency
   *  policy does not apply (like `kubectl create job --from=cronjob/…`). */
  trigger(name: string): Job {
    const s = this.mustGet(name)
    const now = this.#d.clock.now()
    return this.#submit(s, now.getTime(), 'manual', ulid(now.getTime()))
  }

  // ---- lifecycle ------------------------------------------------------------
  /** Re-arm every schedule; ticks that passed while the daemon was down are
   *  decided now by each schedule's catch_up. Call after JobService.start(). */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#d.events.on('job.final', this.#onFinal)
    const now = this.#d.clock.now().getTime()
    for (const s of this.#d.repo.list()) {
      void this.#prune(s.id)
      this.#rearm(s.id, now)
    }
  }

  stop(): void {
    this.#started = false
    this.#d.events.off('job.final', this.#onFinal)
    for (const id of [...this.#timers.keys()]) this.#disarm(id)
  }

  // ---- internals ------------------------------------------------------------
  #validate(s: ScheduleSpec, job: Schedule['job'], now: number): ScheduleSpec {
    const spec = parseCron(s.cron)
    checkTimeZone(s.timezone)
    if (job.name !== undefined) throw invalidArgument('job.name', `runs are named after the schedule (<name>-<unix time>); remove job.name`)
    if (job.interactive) throw invalidArgument('job.interactive', 'a scheduled run has nobody attached to its stdin')
    if (s.jitterMs > 0) {
      const t = nextTicks(spec, s.timezone, now, 50).map((d) => d.getTime())
      const gap = Math.min(...t.slice(1).map((x, k) => x - t[k]!))
      if (s.jitterMs >= gap) throw invalidArgument('jitter', `must be shorter than the shortest interval between ticks (${gap} ms)`)
    }
    return {
      cron: s.cron, timezone: s.timezone, concurrency: s.concurrency, startingDeadlineMs: s.startingDeadlineMs,
      catchUp: s.catchUp, maxCatchUp: s.maxCatchUp, history: s.history, jitterMs: s.jitterMs,
    }
  }

  #spec(s: Schedule): CronSpec {
    const c = this.#specs.get(s.id)
    if (c && c.key === s.cron) return c.spec
    const spec = parseCron(s.cron)
    this.#specs.set(s.id, { key: s.cron, spec })
    return spec
  }

  /** Start watching (again) from `armedAt`, and evaluate right away. */
  #rearm(id: string, armedAt: number): void {
    if (!this.#started) return
    this.#armedAt.set(id, armedAt)
    this.#evaluate(id)
  }

  #evaluateSoon(id: string): void {
    if (!this.#started) return
    this.#schedule(id, 0)
  }

  #disarm(id: string): void {
    this.#timers.get(id)?.cancel()
    this.#timers.delete(id)
    this.#armedAt.delete(id)
    this.#specs.delete(id)
  }

  #schedule(id: string, delayMs: number): void {
    if (!this.#started) return
    this.#timers.get(id)?.cancel()
    this.#timers.set(id, this.#d.clock.setTimeout(() => {
      this.#timers.delete(id)
      this.#evaluate(id)
    }, Math.max(0, Math.min(delayMs, this.#d.maxTimerMs ?? 60_000))))
  }

  /** Decide the due ticks of one schedule and write each decision; then sleep until the next. */
  #evaluate(id: string): void {
    if (!this.#started) return
    const s = this.#d.repo.get(id)
    if (!s || s.suspended) return void this.#timers.get(id)?.cancel()
    const spec = this.#spec(s)
    const now = this.#d.clock.now().getTime()
    // Early only when the concurrency decision cannot change by the tick: a run
    // still active now might be gone then (forbid would skip a tick it should run).
    const prepare = Math.min(this.#d.prepareMs ?? 0, 1000)
    const leadMs = prepare > 0 && (s.concurrency === 'allow' || this.#d.repo.activeRuns(s.id).length === 0) ? prepare : 0
    const r = dueTicks({
      leadMs,
      cursor: s.cursor.getTime(), now, armedAt: this.#armedAt.get(id) ?? now,
      startingDeadlineMs: s.startingDeadlineMs, catchUp: s.catchUp, maxCatchUp: s.maxCatchUp,
      next: (t) => nextTick(spec, s.timezone, t), jitter: (t) => jitterMs(s.id, t, s.jitterMs),
    })
    try {
      this.#apply(s, r, now)
    } catch (err) {
      if (isSkiffError(err, 'SHUTTING_DOWN')) return
      this.#d.log.error({ err, schedule: s.name }, 'schedule evaluation failed')
      return void this.#schedule(id, 1000)
    }
    this.#schedule(id, r.wakeAt === undefined ? Infinity : r.wakeAt - now)
  }

  /** Write the decisions oldest first. The cursor only ever moves with the rows
   *  of the ticks it passes, so a crash between two writes leaves the rest due. */
  #apply(s: Schedule, r: ReturnType<typeof dueTicks>, now: number): void {
    type NotRun = { at: Date; outcome: 'missed' | 'skipped'; reason: string }
    let batch: NotRun[] = []
    let uncounted = r.uncounted?.count ?? 0
    let batchCursor = r.uncounted?.to ?? 0
    const flush = () => {
      if (!batch.length && !uncounted) return
      this.#d.crash?.('miss:before-tx')
      this.#d.repo.recordNotRun(s.id, batch, new Date(batchCursor), { uncounted, now: new Date(now) })
      if (batch.some((b) => b.outcome === 'missed') || uncounted) this.#d.log.info({ schedule: s.name, missed: batch.filter((b) => b.outcome === 'missed').length + uncounted }, 'schedule ticks missed')
      batch = []
      uncounted = 0
    }
    const items = [
      ...r.missed.map((m) => ({ at: m.at, fire: false as const, reason: m.reason as string })),
      ...r.fire.map((f) => ({ at: f.at, fire: true as const, catchUp: f.catchUp })),
    ].sort((a, b) => a.at - b.at)
    for (const it of items) {
      if (!it.fire) {
        batch.push({ at: new Date(it.at), outcome: 'missed', reason: it.reason })
        batchCursor = it.at
        continue
      }
      const d = decideConcurrency(s.concurrency, this.#d.repo.activeRuns(s.id))
      if (!d.start) {
        batch.push({ at: new Date(it.at), outcome: 'skipped', reason: 'forbidden' })
        batchCursor = it.at
        continue
      }
      flush()
      for (const old of d.stop) void this.#d.jobs.stop(old, { timeoutMs: this.#d.stopTimeoutMs ?? 10_000 }).catch((err) => this.#d.log.warn({ err, job: old }, 'stopping a replaced run failed'))
      try {
        const fireAt = it.at + jitterMs(s.id, it.at, s.jitterMs)
        this.#submit(s, it.at, it.catchUp ? 'catch-up' : 'schedule', tickJobId(s.id, it.at), fireAt > now ? fireAt : undefined)
      } catch (err) {
        if (isSkiffError(err, 'SHUTTING_DOWN')) throw err
        if ((err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT')) {
          // The tick already has its row (and its one run): only the cursor was behind.
          this.#d.repo.recordNotRun(s.id, [], new Date(it.at), { now: new Date(now) })
          continue
        }
        // The job service refused the run (queue full, a spec it no longer
        // accepts): the tick is recorded as missed with the reason. Anything
        // else (a bug, a crash) propagates and the tick stays due.
        if (!isSkiffError(err) || err.kind === 'internal') throw err
        this.#d.log.error({ err, schedule: s.name, tick: new Date(it.at).toISOString() }, 'a tick could not start its run')
        batch.push({ at: new Date(it.at), outcome: 'missed', reason: err.code === 'QUEUE_FULL' ? 'queue-full' : `rejected: ${err.code}` })
        batchCursor = it.at
      }
    }
    // Every due tick is handled now: the newest was fired (its transaction moved
    // the cursor) or is in the batch.
    batchCursor = Math.max(batchCursor, r.cursor)
    flush()
  }

  /** One run, with its tick row in the job's own transaction. */
  #submit(s: Schedule, tick: number, trigger: TickTrigger, id: string, notBefore?: number): Job {
    const now = this.#d.clock.now()
    const also = (job: Job) => {
      this.#d.repo.recordRun(s.id, new Date(tick), trigger, job.id, now)
      this.#d.crash?.('fire:in-tx')
    }
    this.#d.crash?.('fire:before-tx')
    let job: Job
    try {
      job = this.#d.jobs.submit(runSpecFor(s, tick, trigger, notBefore), { id, also })
    } catch (e) {
      // Someone else's job holds the run's name: run it unnamed rather than not at all.
      if (!isSkiffError(e, 'NAME_IN_USE')) throw e
      const { name: _taken, ...spec } = runSpecFor(s, tick, trigger, notBefore)
      job = this.#d.jobs.submit(spec, { id, also })
    }
    this.#d.crash?.('fire:after-tx')
    return job
  }

  /** History limits: finished runs beyond them go, with their logs. */
  async #prune(scheduleId: string): Promise<void> {
    const s = this.#d.repo.get(scheduleId)
    if (!s) return
    for (const id of runsToPrune(this.#d.repo.finishedRuns(scheduleId), s.history)) {
      await this.#d.jobs.remove(id).catch((err) => this.#d.log.warn({ err, job: id }, 'pruning a finished run failed'))
    }
    this.#d.repo.pruneTicks(scheduleId, TICK_ROWS_KEPT)
  }
}

/** Where the upcoming ticks start: now, or a tick decided early (the cursor
 *  ahead of now) whose run has not started yet — it is still to come. */
function nextFrom(now: number, cursor: Date): number {
  return cursor.getTime() > now ? cursor.getTime() - 1 : now
}

/** Drop undefined fields so they do not override defaults or current values. */
function strip<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
