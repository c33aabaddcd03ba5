import { and, desc, eq, inArray, lt, lte, notInArray, sql } from 'drizzle-orm'
import type { Db } from '../db/open.js'
import { jobs, scheduleTicks, schedules } from '../db/schema.js'
import { SkiffError } from '../lib/errors.js'
import { FINAL_STATES } from './job-state.js'
import type { Schedule, ScheduleSpec, TickOutcome, TickRecord, TickTrigger } from './schedule-types.js'
import type { RunSpec } from './types.js'

type Row = typeof schedules.$inferSelect

function toSchedule(r: Row): Schedule {
  const spec = JSON.parse(r.spec) as ScheduleSpec
  return {
    ...spec,
    id: r.id,
    name: r.name,
    job: JSON.parse(r.job) as RunSpec,
    jobRequest: JSON.parse(r.jobRequest),
    suspended: r.suspended,
    cursor: r.cursor,
    missedTotal: r.missedTotal,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
}

const specOf = (s: ScheduleSpec): ScheduleSpec => ({
  cron: s.cron, timezone: s.timezone, concurrency: s.concurrency, startingDeadlineMs: s.startingDeadlineMs,
  catchUp: s.catchUp, maxCatchUp: s.maxCatchUp, history: s.history, jitterMs: s.jitterMs,
})

const FINAL = [...FINAL_STATES]

export const scheduleNotFound = (name: string) => new SkiffError('not_found', 'SCHEDULE_NOT_FOUND', `schedule ${JSON.stringify(name)} not found`)

/** Every SQL statement about schedules and their ticks. Synchronous
 *  (better-sqlite3); the writes that must be atomic are one transaction each. */
export class ScheduleRepo {
  readonly #tx: <T>(fn: () => T) => T

  constructor(private readonly db: Db) {
    const client = db.$client
    this.#tx = (fn) => client.transaction(fn)()
  }

  insert(s: Omit<Schedule, 'missedTotal'>): Schedule {
    try {
      const row = this.db.insert(schedules).values({
        id: s.id, name: s.name, spec: JSON.stringify(specOf(s)), job: JSON.stringify(s.job), jobRequest: JSON.stringify(s.jobRequest ?? null),
        suspended: s.suspended, cursor: s.cursor, createdAt: s.createdAt, updatedAt: s.updatedAt,
      }).returning().get()
      return toSchedule(row)
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new SkiffError('conflict', 'SCHEDULE_EXISTS', `schedule ${JSON.stringify(s.name)} already exists`, { field: 'name' })
      throw e
    }
  }

  get(id: string): Schedule | undefined {
    const r = this.db.select().from(schedules).where(eq(schedules.id, id)).get()
    return r && toSchedule(r)
  }

  getByName(name: string): Schedule | undefined {
    const r = this.db.select().from(schedules).where(eq(schedules.name, name)).get()
    return r && toSchedule(r)
  }

  list(): Schedule[] {
    return this.db.select().from(schedules).orderBy(schedules.name).all().map(toSchedule)
  }

  /** Replace the spec, job, suspension and cursor of a schedule. */
  update(s: Schedule, now: Date): Schedule {
    const row = this.db.update(schedules).set({
      spec: JSON.stringify(specOf(s)), job: JSON.stringify(s.job), jobRequest: JSON.stringify(s.jobRequest ?? null),
      suspended: s.suspended, cursor: s.cursor, updatedAt: now,
    }).where(eq(schedules.id, s.id)).returning().get()
    if (!row) throw scheduleNotFound(s.name)
    return toSchedule(row)
  }

  delete(id: string): void {
    this.db.delete(schedules).where(eq(schedules.id, id)).run()
  }

  /** Inside the job's insert transaction: the tick row, the job's link to its
   *  schedule and the cursor. A tick that already has a row throws
   *  SQLITE_CONSTRAINT_UNIQUE, which rolls the job back with it. */
  recordRun(scheduleId: string, tick: Date, trigger: TickTrigger, jobId: string, now: Date): void {
    this.db.insert(scheduleTicks).values({ scheduleId, scheduledTime: tick, trigger, outcome: 'run', jobId, recordedAt: now }).run()
    this.db.update(jobs).set({ scheduleId }).where(eq(jobs.id, jobId)).run()
    if (trigger !== 'manual') this.#advance(scheduleId, tick)
  }

  /** Ticks that will not run (missed, or skipped by concurrency), the cursor
   *  moved past them, and the count of `uncounted` ones, in one transaction. */
  recordNotRun(scheduleId: string, ticks: { at: Date; outcome: Exclude<TickOutcome, 'run'>; reason: string }[], cursor: Date, opts: { uncounted?: number; now: Date }): void {
    this.#tx(() => {
      for (const t of ticks) this.db.insert(scheduleTicks).values({ scheduleId, scheduledTime: t.at, trigger: 'schedule', outcome: t.outcome, reason: t.reason, recordedAt: opts.now }).onConflictDoNothing().run()
      const missed = ticks.filter((t) => t.outcome === 'missed').length + (opts.uncounted ?? 0)
      if (missed) this.db.update(schedules).set({ missedTotal: sql`${schedules.missedTotal} + ${missed}` }).where(eq(schedules.id, scheduleId)).run()
      this.#advance(scheduleId, cursor)
    })
  }

  /** Move the cursor forward only: ticks behind it are done. */
  #advance(scheduleId: string, to: Date): void {
    this.db.update(schedules).set({ cursor: to }).where(and(eq(schedules.id, scheduleId), lt(schedules.cursor, to))).run()
  }

  /** Ids of the schedule's runs that have not ended. */
  activeRuns(scheduleId: string): string[] {
    return this.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.scheduleId, scheduleId), notInArray(jobs.state, FINAL))).orderBy(jobs.id).all().map((r) => r.id)
  }

  /** Finished runs, newest first, with what decides which history they count in. */
  finishedRuns(scheduleId: string): { id: string; state: string; exitCode: number | null }[] {
    return this.db.select({ id: jobs.id, state: jobs.state, exitCode: jobs.exitCode }).from(jobs)
      .where(and(eq(jobs.scheduleId, scheduleId), inArray(jobs.state, FINAL))).orderBy(desc(jobs.createdAt), desc(jobs.id)).all()
  }

  /** Runs that still exist, newest first, with the tick that made each. */
  runs(scheduleId: string, limit: number): { jobId: string; trigger: TickTrigger; scheduledTime: Date }[] {
    return this.db.select({ jobId: jobs.id, trigger: scheduleTicks.trigger, scheduledTime: scheduleTicks.scheduledTime })
      .from(jobs).innerJoin(scheduleTicks, eq(scheduleTicks.jobId, jobs.id))
      .where(eq(jobs.scheduleId, scheduleId)).orderBy(desc(scheduleTicks.id)).limit(limit).all() as { jobId: string; trigger: TickTrigger; scheduledTime: Date }[]
  }

  allRunIds(scheduleId: string): string[] {
    return this.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.scheduleId, scheduleId)).all().map((r) => r.id)
  }

  /** Tick records, newest first; `outcome` filters. */
  ticks(scheduleId: string, opts: { outcome?: TickOutcome[]; limit?: number } = {}): TickRecord[] {
    const conds = [eq(scheduleTicks.scheduleId, scheduleId)]
    if (opts.outcome?.length) conds.push(inArray(scheduleTicks.outcome, opts.outcome))
    return this.db.select({
      scheduledTime: scheduleTicks.scheduledTime, trigger: scheduleTicks.trigger, outcome: scheduleTicks.outcome,
      reason: scheduleTicks.reason, jobId: scheduleTicks.jobId, recordedAt: scheduleTicks.recordedAt,
    }).from(scheduleTicks).where(and(...conds)).orderBy(desc(scheduleTicks.scheduledTime), desc(scheduleTicks.id)).limit(opts.limit ?? 1000).all() as TickRecord[]
  }

  scheduleOfJob(jobId: string): string | undefined {
    return this.db.select({ s: jobs.scheduleId }).from(jobs).where(eq(jobs.id, jobId)).get()?.s ?? undefined
  }

  /** Keep the newest `keep` tick rows of a schedule, and older ones whose run
   *  still exists. Dropping old rows is safe: they are behind the cursor. */
  pruneTicks(scheduleId: string, keep: number): void {
    const edge = this.db.select({ id: scheduleTicks.id }).from(scheduleTicks).where(eq(scheduleTicks.scheduleId, scheduleId))
      .orderBy(desc(scheduleTicks.id)).limit(1).offset(keep).get()
    if (!edge) return
    this.db.delete(scheduleTicks).where(and(
      eq(scheduleTicks.scheduleId, scheduleId), lte(scheduleTicks.id, edge.id),
      sql`(${scheduleTicks.jobId} IS NULL OR ${scheduleTicks.jobId} NOT IN (SELECT ${jobs.id} FROM ${jobs}))`,
    )).run()
  }
}
