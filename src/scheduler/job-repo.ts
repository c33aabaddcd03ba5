import { and, asc, desc, eq, gte, inArray, lt, sql } from 'drizzle-orm'
import type { Db } from '../db/open.js'
import { attempts, jobEvents, jobs } from '../db/schema.js'
import { SkiffError } from '../lib/errors.js'
import type { HealthState } from './health.js'
import { assertTransition, FINAL_STATES, type AttemptState, type JobState } from './job-state.js'
import type { Attempt, Job, JobEvent, JobQuery, JobUsage, Page, RunSpec } from './types.js'

type Row = typeof jobs.$inferSelect
type AttemptRow = typeof attempts.$inferSelect

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
    attempt: r.attempt,
    failures: r.failures,
    backoffStep: r.backoffStep,
    queuedAt: r.queuedAt,
    nextAttemptAt: r.nextAttemptAt,
    stoppedByUser: r.stoppedByUser,
    stopDeadline: r.stopDeadline,
    health: r.health ? (JSON.parse(r.health) as HealthState) : null,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    parentId: r.parentId,
    connTotal: r.connTotal,
    connRefused: r.connRefused,
  }
}

function toAttempt(r: AttemptRow): Attempt {
  return {
    jobId: r.jobId,
    n: r.n,
    containerId: r.containerId,
    state: r.state as AttemptState,
    reason: r.reason,
    message: r.message,
    exitCode: r.exitCode,
    signal: r.signal,
    oomKilled: r.oomKilled,
    timedOut: r.timedOut,
    usage: r.usage ? (JSON.parse(r.usage) as JobUsage) : null,
    logOffset: r.logOffset,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  }
}

/** Columns a transition (or a plain update) may write on the job row. */
export interface JobPatch {
  imageId?: string
  reason?: string | null
  message?: string | null
  exitCode?: number | null
  signal?: string | null
  oomKilled?: boolean
  timedOut?: boolean
  usage?: JobUsage | null
  startedAt?: Date | null
  finishedAt?: Date | null
  restarts?: number
  failures?: number
  backoffStep?: number
  queuedAt?: Date | null
  nextAttemptAt?: Date | null
  stoppedByUser?: boolean
  stopDeadline?: Date | null
  health?: HealthState | null
  spec?: RunSpec
}

export interface TransitionPatch extends JobPatch {
  /** the job_events row's detail */
  detail?: string
}

/** Columns an attempt update may write. */
export interface AttemptPatch {
  state?: AttemptState
  reason?: string | null
  message?: string | null
  exitCode?: number | null
  signal?: string | null
  oomKilled?: boolean
  timedOut?: boolean
  usage?: JobUsage | null
  logOffset?: number | null
  startedAt?: Date | null
  finishedAt?: Date | null
}

const p = sql.placeholder
const SETTLED = sql.join([...FINAL_STATES].map((s) => sql`${s}`), sql`, `)

/** JSON columns are stored as text; everything else as drizzle maps it. */
function jobValues(patch: JobPatch): Record<string, unknown> {
  const { usage, health, spec, ...cols } = patch
  const v: Record<string, unknown> = { ...cols }
  if (usage !== undefined) v.usage = usage && JSON.stringify(usage)
  if (health !== undefined) v.health = health && JSON.stringify(health)
  if (spec !== undefined) v.request = JSON.stringify(spec)
  for (const k of Object.keys(v)) if (v[k] === undefined) delete v[k]
  return v
}

function attemptValues(patch: AttemptPatch): Record<string, unknown> {
  const { usage, ...cols } = patch
  const v: Record<string, unknown> = { ...cols }
  if (usage !== undefined) v.usage = usage && JSON.stringify(usage)
  for (const k of Object.keys(v)) if (v[k] === undefined) delete v[k]
  return v
}

type SetArg = Parameters<ReturnType<Db['update']>['set']>[0]

/** A SET clause for a prepared UPDATE: a placeholder per column, but a literal
 *  NULL for a column set to null (drizzle maps a placeholder's value through the
 *  column's encoder, and a timestamp's encoder cannot take null). The key names
 *  the statement's shape, to cache it. */
function prepareSet(values: Record<string, unknown>): [string, SetArg, Record<string, unknown>] {
  const cols = Object.keys(values).sort()
  const set: Record<string, unknown> = {}
  const args: Record<string, unknown> = {}
  for (const c of cols) {
    if (values[c] === null) set[c] = sql`NULL`
    else {
      set[c] = p(c)
      args[c] = values[c]
    }
  }
  return [cols.map((c) => (values[c] === null ? `${c}=null` : c)).join(','), set as SetArg, args]
}

/** Every SQL statement about jobs and their attempts. Synchronous
 *  (better-sqlite3): a transition, its event and its attempt's update are one
 *  transaction, committed before the caller acts on it. The per-job statements
 *  are prepared once: building a drizzle query costs ≈70 µs against ≈5 µs to run
 *  a prepared one, and a job makes about a dozen.
 *
 *  The queue is a store operation: `queuedHead` reads the head in order and
 *  `claim` moves one job queued → pulling (and opens its next attempt) only if
 *  it is still queued — the shape a PostgreSQL store implements with
 *  `FOR UPDATE SKIP LOCKED` when several nodes share one database. */
export class JobRepo {
  readonly #byId
  readonly #byName
  readonly #byPrefix
  readonly #stateOf
  readonly #insertJob
  readonly #insertEvent
  readonly #insertAttempt
  readonly #attemptsOf
  readonly #queuedHead
  readonly #queuedCount
  readonly #countConn
  readonly #activeChildren
  /** UPDATE statements by the set of columns they write */
  readonly #updates = new Map<string, { get(v: Record<string, unknown>): Row | undefined }>()
  readonly #attemptUpdates = new Map<string, { run(v: Record<string, unknown>): unknown }>()
  /** better-sqlite3's own transaction wrapper: drizzle's re-parses BEGIN/COMMIT every time */
  readonly #tx: <T>(fn: () => T) => T

  constructor(private readonly db: Db) {
    this.#byId = db.select().from(jobs).where(eq(jobs.id, p('id'))).prepare()
    this.#byName = db.select().from(jobs).where(eq(jobs.name, p('name'))).prepare()
    this.#byPrefix = db.select({ id: jobs.id }).from(jobs).where(and(gte(jobs.id, p('lo')), lt(jobs.id, p('hi')))).orderBy(jobs.id).limit(p('limit')).prepare()
    this.#stateOf = db.select({ state: jobs.state, attempt: jobs.attempt }).from(jobs).where(eq(jobs.id, p('id'))).prepare()
    this.#insertJob = db
      .insert(jobs)
      .values({ id: p('id'), name: p('name'), state: 'queued', image: p('image'), request: p('request'), labels: p('labels'), createdAt: p('createdAt'), queuedAt: p('createdAt'), parentId: p('parentId') })
      .returning()
      .prepare()
    this.#insertEvent = db.insert(jobEvents).values({ jobId: p('jobId'), state: p('state'), time: p('time'), detail: p('detail') }).prepare()
    this.#insertAttempt = db
      .insert(attempts)
      .values({ jobId: p('jobId'), n: p('n'), containerId: p('containerId'), state: 'pulling', createdAt: p('createdAt') })
      .prepare()
    this.#attemptsOf = db.select().from(attempts).where(eq(attempts.jobId, p('jobId'))).orderBy(asc(attempts.n)).prepare()
    this.#queuedHead = db
      .select({ id: jobs.id, memoryBytes: sql<number | null>`json_extract(${jobs.request}, '$.limits.memoryBytes')` })
      .from(jobs)
      .where(eq(jobs.state, 'queued'))
      .orderBy(asc(jobs.queuedAt), asc(jobs.id))
      .limit(p('limit'))
      .prepare()
    this.#countConn = db.update(jobs).set({ connTotal: sql`${jobs.connTotal} + ${p('total')}`, connRefused: sql`${jobs.connRefused} + ${p('refused')}` }).where(eq(jobs.id, p('id'))).prepare()
    this.#activeChildren = db.select({ n: sql<number>`count(*)` }).from(jobs).where(and(eq(jobs.parentId, p('id')), sql`${jobs.state} NOT IN (${SETTLED})`)).prepare()
    this.#queuedCount = db.select({ n: sql<number>`count(*)` }).from(jobs).where(eq(jobs.state, 'queued')).prepare()
    const client = db.$client
    this.#tx = (fn) => client.transaction(fn)()
  }

  /** Run `fn` in one transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T {
    return this.#tx(fn)
  }

  /** Insert a queued job. `also` runs inside the same transaction (a schedule's
   *  tick row, say): if either throws, neither is written. */
  insert(id: string, spec: RunSpec, now: Date, also?: (job: Job) => void, parentId?: string): Job {
    return this.#tx(() => {
      if (spec.name && this.#byName.get({ name: spec.name }))
        throw new SkiffError('conflict', 'NAME_IN_USE', `name ${JSON.stringify(spec.name)} is already used by another job`, { field: 'name' })
      // lookups try ids before names: a name equal to another job's id could never be found
      if (spec.name && this.#byId.get({ id: spec.name }))
        throw new SkiffError('conflict', 'NAME_IN_USE', `name ${JSON.stringify(spec.name)} is the id of another job`, { field: 'name' })
      const row = this.#insertJob.get({ id, name: spec.name ?? null, image: spec.image, request: JSON.stringify(spec), labels: JSON.stringify(spec.labels), createdAt: now, parentId: parentId ?? null })
      // a connection's job and its listener's count: one transaction
      if (parentId) this.#countConn.run({ id: parentId, total: 1, refused: 0 })
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

  /** Move a job to `to`, checking the transition against the current row; the
   *  current attempt's row is updated in the same transaction when given. */
  transition(id: string, to: JobState, now: Date, patch: TransitionPatch = {}, attempt?: AttemptPatch): Job {
    return this.#tx(() => {
      const cur = this.#stateOf.get({ id })
      if (!cur) throw new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
      assertTransition(id, cur.state as JobState, to)
      const { detail, ...cols } = patch
      const row = this.#updateJob(id, { state: to, ...jobValues(cols) })
      this.#insertEvent.run({ jobId: id, state: to, time: now, detail: detail ?? null })
      if (attempt && cur.attempt > 0) this.#updateAttempt(id, cur.attempt, attempt)
      return toJob(row)
    })
  }

  /** Write columns that are not a state change (health, a stop deadline, a new policy). */
  update(id: string, patch: JobPatch): Job {
    const v = jobValues(patch)
    if (!Object.keys(v).length) return this.get(id)!
    const row = this.#updateJob(id, v)
    if (!row) throw new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
    return toJob(row)
  }

  updateAttempt(jobId: string, n: number, patch: AttemptPatch): void {
    this.#updateAttempt(jobId, n, patch)
  }

  /** queued → pulling, opening attempt n+1 with container id `<job>.<n+1>`;
   *  undefined if the job is no longer queued (stopped, killed, or claimed). */
  claim(id: string, now: Date): Job | undefined {
    return this.#tx(() => {
      const cur = this.#stateOf.get({ id })
      if (!cur || cur.state !== 'queued') return undefined
      const n = cur.attempt + 1
      this.#insertAttempt.run({ jobId: id, n, containerId: containerIdFor(id, n), createdAt: now })
      const row = this.#updateJob(id, { state: 'pulling', attempt: n, queuedAt: null })
      this.#insertEvent.run({ jobId: id, state: 'pulling', time: now, detail: n > 1 ? `attempt ${n}` : null })
      return toJob(row)
    })
  }

  /** The queue's head in FIFO order (by time of entering the queue). */
  queuedHead(limit: number): { id: string; memoryBytes: number }[] {
    return this.#queuedHead.all({ limit }).map((r) => ({ id: r.id, memoryBytes: r.memoryBytes ?? 0 }))
  }

  /** A listener refused a connection. */
  countRefused(parentId: string): void {
    this.#countConn.run({ id: parentId, total: 0, refused: 1 })
  }

  /** A listener's connections (child jobs) not settled. */
  activeChildren(parentId: string): number {
    return this.#activeChildren.get({ id: parentId })!.n
  }

  /** Ids of a listener's settled connection jobs, newest first. */
  settledChildIds(parentId: string): string[] {
    return this.db.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.parentId, parentId), sql`${jobs.state} IN (${SETTLED})`)).orderBy(desc(jobs.id)).all().map((r) => r.id)
  }

  /** Ids of a listener's connection jobs, oldest first. */
  childIds(parentId: string): string[] {
    return this.db.select({ id: jobs.id }).from(jobs).where(eq(jobs.parentId, parentId)).orderBy(asc(jobs.id)).all().map((r) => r.id)
  }

  queuedCount(): number {
    return this.#queuedCount.get()!.n
  }

  attempts(jobId: string): Attempt[] {
    return this.#attemptsOf.all({ jobId }).map(toAttempt)
  }

  #updateJob(id: string, values: Record<string, unknown>): Row {
    const [key, set, args] = prepareSet(values)
    let st = this.#updates.get(key)
    if (!st) {
      st = this.db.update(jobs).set(set).where(eq(jobs.id, p('id'))).returning().prepare()
      this.#updates.set(key, st)
    }
    return st.get({ ...args, id })!
  }

  #updateAttempt(jobId: string, n: number, patch: AttemptPatch): void {
    const [key, set, args] = prepareSet(attemptValues(patch))
    if (!key) return
    let st = this.#attemptUpdates.get(key)
    if (!st) {
      st = this.db.update(attempts).set(set).where(and(eq(attempts.jobId, p('jobId')), eq(attempts.n, p('n')))).prepare()
      this.#attemptUpdates.set(key, st)
    }
    st.run({ ...args, jobId, n })
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
    if (q.parent) conds.push(eq(jobs.parentId, q.parent))
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

  /** Jobs not settled, oldest first (for reconciliation). */
  unfinished(): Job[] {
    return this.db.select().from(jobs).where(sql`${jobs.state} NOT IN (${SETTLED})`).orderBy(jobs.id).all().map(toJob)
  }

  /** Settled jobs whose restart policy may bring them back when the daemon starts. */
  settledRestartable(): Job[] {
    return this.db
      .select()
      .from(jobs)
      .where(sql`${jobs.state} IN (${SETTLED}) AND json_extract(${jobs.request}, '$.restart.mode') IN ('always', 'unless-stopped')`)
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

  /** Settled jobs finished before `before` (or all settled jobs). */
  finishedIds(before?: Date): string[] {
    const conds = [sql`${jobs.state} IN (${SETTLED})`]
    if (before) conds.push(lt(jobs.finishedAt, before))
    return this.db.select({ id: jobs.id }).from(jobs).where(and(...conds)).all().map((r) => r.id)
  }
}

/** Container ids are per attempt, so a restart never collides with the last one. */
export const containerIdFor = (jobId: string, n: number) => `${jobId}.${n}`

/** The job a container belongs to (`<job>.<n>`; a container from before attempts is named after its job). */
export const jobIdOfContainer = (containerId: string) => /^(.+)\.\d+$/.exec(containerId)?.[1] ?? containerId
