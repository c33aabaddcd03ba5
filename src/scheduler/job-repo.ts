import { and, desc, eq, gte, inArray, lt, sql } from 'drizzle-orm'
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

const p = sql.placeholder

/** Every SQL statement about jobs. Synchronous (better-sqlite3): a transition
 *  and its event are one transaction, committed before the caller acts on it.
 *  The per-job statements are prepared once: building a drizzle query costs
 *  ≈70 µs against ≈5 µs to run a prepared one, and a job makes about a dozen. */
export class JobRepo {
  readonly #byId
  readonly #byName
  readonly #byPrefix
  readonly #stateOf
  readonly #insertJob
  readonly #insertEvent
  /** UPDATE statements by the set of columns a transition writes */
  readonly #updates = new Map<string, { get(v: Record<string, unknown>): Row | undefined }>()
  /** better-sqlite3's own transaction wrapper: drizzle's re-parses BEGIN/COMMIT every time */
  readonly #tx: <T>(fn: () => T) => T

  constructor(private readonly db: Db) {
    this.#byId = db.select().from(jobs).where(eq(jobs.id, p('id'))).prepare()
    this.#byName = db.select().from(jobs).where(eq(jobs.name, p('name'))).prepare()
    this.#byPrefix = db.select({ id: jobs.id }).from(jobs).where(and(gte(jobs.id, p('lo')), lt(jobs.id, p('hi')))).orderBy(jobs.id).limit(p('limit')).prepare()
    this.#stateOf = db.select({ state: jobs.state }).from(jobs).where(eq(jobs.id, p('id'))).prepare()
    this.#insertJob = db
      .insert(jobs)
      .values({ id: p('id'), name: p('name'), state: 'queued', image: p('image'), request: p('request'), labels: p('labels'), createdAt: p('createdAt') })
      .returning()
      .prepare()
    this.#insertEvent = db.insert(jobEvents).values({ jobId: p('jobId'), state: p('state'), time: p('time'), detail: p('detail') }).prepare()
    const client = db.$client
    this.#tx = (fn) => client.transaction(fn)()
  }

  /** Insert a queued job. `also` runs inside the same transaction (a schedule's
   *  tick row, say): if either throws, neither is written. */
  insert(id: string, spec: RunSpec, now: Date, also?: (job: Job) => void): Job {
    return this.#tx(() => {
      if (spec.name && this.#byName.get({ name: spec.name }))
        throw new SkiffError('conflict', 'NAME_IN_USE', `name ${JSON.stringify(spec.name)} is already used by another job`, { field: 'name' })
      // lookups try ids before names: a name equal to another job's id could never be found
      if (spec.name && this.#byId.get({ id: spec.name }))
        throw new SkiffError('conflict', 'NAME_IN_USE', `name ${JSON.stringify(spec.name)} is the id of another job`, { field: 'name' })
      const row = this.#insertJob.get({ id, name: spec.name ?? null, image: spec.image, request: JSON.stringify(spec), labels: JSON.stringify(spec.labels), createdAt: now })
      this.#insertEvent.run({ jobId: id, state: 'queued', time: now, detail: null })
      const job = toJob(row)
      also?.(job)
      return job
    })
  }

  get(id: string): Job | undefined {
    const r = this.#byId.get({ id })
    return r && toJob(r)
  }

  /** Ids starting with `prefix` (at most `limit`), in order: a range scan of the primary key. */
  idsByPrefix(prefix: string, limit: number): string[] {
    return this.#byPrefix.all({ lo: prefix, hi: prefix + '\uffff', limit }).map((r) => r.id)
  }

  getByName(name: string): Job | undefined {
    const r = this.#byName.get({ name })
    return r && toJob(r)
  }

  /** Move a job to `to`, checking the transition against the current row. */
  transition(id: string, to: JobState, now: Date, patch: TransitionPatch = {}): Job {
    return this.#tx(() => {
      const cur = this.#stateOf.get({ id })
      if (!cur) throw new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
      assertTransition(id, cur.state as JobState, to)
      const { detail, usage, ...cols } = patch
      const values: Record<string, unknown> = { state: to, ...cols, ...(usage ? { usage: JSON.stringify(usage) } : {}) }
      for (const k of Object.keys(values)) if (values[k] === undefined) delete values[k]
      const row = this.#update(Object.keys(values)).get({ ...values, id })!
      this.#insertEvent.run({ jobId: id, state: to, time: now, detail: detail ?? null })
      return toJob(row)
    })
  }

  #update(columns: string[]) {
    const key = columns.sort().join(',')
    let st = this.#updates.get(key)
    if (!st) {
      const set = Object.fromEntries(columns.map((c) => [c, p(c)])) as Parameters<ReturnType<Db['update']>['set']>[0]
      st = this.db.update(jobs).set(set).where(eq(jobs.id, p('id'))).returning().prepare()
      this.#updates.set(key, st)
    }
    return st
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
