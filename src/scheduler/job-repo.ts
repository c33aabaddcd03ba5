import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/open.js'
import { jobEvents, jobs } from '../db/schema.js'
import { SkiffError } from '../lib/errors.js'
import { assertTransition, FINAL_STATES, type JobState } from './job-state.js'
import type { Job, JobEvent, JobQuery, JobUsage, Page, RunSpec } from './types.js'

type Row = typeof jobs.$inferSelect

function toJob(r: Row): Job {
  return {
    id: r.id,
    name: r.name,
    state: r.state as JobState,
    image: r.image,
    imageId: r.imageId,
    spec: JSON.parse(r.request) as RunSpec,
    labels: JSON.parse(r.labels) as Record<string, string>,
    reason: r.reason,
    message: r.message,
    exitCode: r.exitCode,
    signal: r.signal,
    oomKilled: r.oomKilled,
    timedOut: r.timedOut,
    usage: r.usage ? (JSON.parse(r.usage) as JobUsage) : null,
    restarts: r.restarts,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  }
}

export interface TransitionPatch {
  imageId?: string
  reason?: string | null
  message?: string | null
  exitCode?: number | null
  signal?: string | null
  oomKilled?: boolean
  timedOut?: boolean
  usage?: JobUsage
  startedAt?: Date
  finishedAt?: Date
  detail?: string
}

/** Every SQL statement about jobs. Synchronous (better-sqlite3): a transition
 *  and its event are one transaction, committed before the caller acts on it. */
export class JobRepo {
  constructor(private readonly db: Db) {}

  insert(id: string, spec: RunSpec, now: Date): Job {
    return this.db.transaction((tx) => {
      if (spec.name && tx.select({ id: jobs.id }).from(jobs).where(eq(jobs.name, spec.name)).get())
        throw new SkiffError('conflict', 'NAME_IN_USE', `name ${JSON.stringify(spec.name)} is already used by another job`, { field: 'name' })
      const row = tx
        .insert(jobs)
        .values({
          id,
          name: spec.name ?? null,
          state: 'queued',
          image: spec.image,
          request: JSON.stringify(spec),
          labels: JSON.stringify(spec.labels),
          createdAt: now,
        })
        .returning()
        .get()
      tx.insert(jobEvents).values({ jobId: id, state: 'queued', time: now }).run()
      return toJob(row)
    })
  }

  get(id: string): Job | undefined {
    const r = this.db.select().from(jobs).where(eq(jobs.id, id)).get()
    return r && toJob(r)
  }

  getByName(name: string): Job | undefined {
    const r = this.db.select().from(jobs).where(eq(jobs.name, name)).get()
    return r && toJob(r)
  }

  /** Move a job to `to`, checking the transition against the current row. */
  transition(id: string, to: JobState, now: Date, patch: TransitionPatch = {}): Job {
    return this.db.transaction((tx) => {
      const cur = tx.select({ state: jobs.state }).from(jobs).where(eq(jobs.id, id)).get()
      if (!cur) throw new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
      assertTransition(id, cur.state as JobState, to)
      const { detail, usage, ...cols } = patch
      const row = tx.update(jobs).set({ state: to, ...cols, ...(usage ? { usage: JSON.stringify(usage) } : {}) }).where(eq(jobs.id, id)).returning().get()
      tx.insert(jobEvents).values({ jobId: id, state: to, time: now, detail: detail ?? null }).run()
      return toJob(row)
    })
  }

  events(id: string): JobEvent[] {
    return this.db
      .select({ state: jobEvents.state, time: jobEvents.time, detail: jobEvents.detail })
      .from(jobEvents)
      .where(eq(jobEvents.jobId, id))
      .orderBy(jobEvents.id)
      .all() as JobEvent[]
  }

  list(q: JobQuery): Page<Job> {
    const limit = Math.min(q.limit ?? 100, 1000)
    const conds = []
    if (q.state?.length) conds.push(inArray(jobs.state, q.state))
    if (q.name) conds.push(eq(jobs.name, q.name))
    if (q.before) conds.push(lt(jobs.id, q.before))
    for (const [k, v] of Object.entries(q.labels ?? {})) conds.push(sql`json_extract(${jobs.labels}, ${'$.' + JSON.stringify(k)}) = ${v}`)
    const rows = this.db
      .select()
      .from(jobs)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(jobs.id))
      .limit(limit + 1)
      .all()
    const items = rows.slice(0, limit).map(toJob)
    return { items, next: rows.length > limit ? items[items.length - 1]!.id : null }
  }

  /** Jobs not in a final state, oldest first (for reconciliation and the queue). */
  unfinished(): Job[] {
    return this.db
      .select()
      .from(jobs)
      .where(sql`${jobs.state} NOT IN (${sql.join([...FINAL_STATES].map((s) => sql`${s}`), sql`, `)})`)
      .orderBy(jobs.id)
      .all()
      .map(toJob)
  }

  countByState(): Record<string, number> {
    const rows = this.db.select({ state: jobs.state, n: sql<number>`count(*)` }).from(jobs).groupBy(jobs.state).all()
    return Object.fromEntries(rows.map((r) => [r.state, r.n]))
  }

  delete(id: string): void {
    this.db.delete(jobs).where(eq(jobs.id, id)).run()
  }

  /** Final jobs finished before `before` (or all final jobs). */
  finishedIds(before?: Date): string[] {
    const conds = [sql`${jobs.state} IN (${sql.join([...FINAL_STATES].map((s) => sql`${s}`), sql`, `)})`]
    if (before) conds.push(lt(jobs.finishedAt, before))
    return this.db.select({ id: jobs.id }).from(jobs).where(and(...conds)).all().map((r) => r.id)
  }
}
