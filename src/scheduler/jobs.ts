import { ulid } from 'ulid'
import type { EventBus } from '../events.js'
import type { Clock } from '../lib/clock.js'
import { isSkiffError, SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { admit, type AdmissionLimits } from './admission.js'
import { containerSpec } from './container-spec.js'
import type { TransitionPatch } from './job-repo.js'
import { JobRepo } from './job-repo.js'
import { checkPrivileges, type PrivilegePolicy } from './privileges.js'
import { finalStateFor, isFinal, type JobState } from './job-state.js'
import type { ContainerLike, ExitStatusLike, ImagesPort, LogsPort, RuntimePort, StdinLike } from './ports.js'
import type { Job, JobQuery, Page, RunSpec } from './types.js'
import type { ImageRecord } from '../images/types.js'

export interface JobServiceDeps {
  repo: JobRepo
  images: ImagesPort
  runtime: RuntimePort
  logs: LogsPort
  clock: Clock
  log: Logger
  events: EventBus
  limits: AdmissionLimits & { maxQueued: number }
  /** what jobs may ask for beyond the defaults (absent: nothing) */
  privileges?: PrivilegePolicy
}

/** In-memory bookkeeping for a job holding a slot. SQLite is the truth; this is
 *  only what cannot be stored: the live container handle and abort switches. */
interface Active {
  memoryBytes: number
  container?: ContainerLike
  killedByUser: boolean
  killSignal?: NodeJS.Signals
  abort: AbortController
  /** an interactive job's open stdin, from create until it is closed or the job ends */
  stdin?: StdinLike
}

export const notFound = (id: string) => new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
export const ambiguousId = (prefix: string, ids: string[]) =>
  new SkiffError('conflict', 'AMBIGUOUS_JOB_ID', `job id prefix ${JSON.stringify(prefix)} matches ${ids.length > 10 ? 'more than 10' : ids.length} jobs: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`, { field: 'id', detail: { matches: ids.slice(0, 10) } })
export const notRunning = (j: { id: string; state: string }) => new SkiffError('conflict', 'JOB_NOT_RUNNING', `job ${j.id} is not running (state ${j.state})`)
export const stdinNotOpen = (id: string) => new SkiffError('conflict', 'STDIN_NOT_OPEN', `job ${id} was not started with an open stdin (run it with "interactive": true)`)

/** Job lifecycle: submit (persist before ack) → admission → pull → create → start
 *  → wait → record. Every transition is committed before it is acted on. */
export class JobService {
  readonly #d: JobServiceDeps
  readonly #queue: { id: string; memoryBytes: number }[] = []
  readonly #active = new Map<string, Active>()
  readonly #teardowns = new Set<Promise<unknown>>()
  #accepting = true
  #dispatching = false

  constructor(deps: JobServiceDeps) {
    this.#d = deps
  }

  // ---- queries --------------------------------------------------------------
  /** By id, by name, or by a unique id prefix (docker's order); an ambiguous prefix is a 409. */
  get(idOrName: string): Job | undefined {
    return this.#d.repo.get(idOrName) ?? this.#d.repo.getByName(idOrName) ?? this.#byIdPrefix(idOrName)
  }

  #byIdPrefix(prefix: string): Job | undefined {
    // ULIDs are upper case; people type them in either
    const ids = [...new Set([prefix, prefix.toUpperCase()].flatMap((p) => this.#d.repo.idsByPrefix(p, 11)))]
    if (ids.length === 1) return this.#d.repo.get(ids[0]!)
    if (ids.length > 1) throw ambiguousId(prefix, ids)
    return undefined
  }

  mustGet(idOrName: string): Job {
    const j = this.get(idOrName)
    if (!j) throw notFound(idOrName)
    return j
  }

  list(q: JobQuery): Page<Job> {
    return this.#d.repo.list(q)
  }

  events(id: string) {
    return this.#d.repo.events(this.mustGet(id).id)
  }

  get queueDepth(): number {
    return this.#queue.length
  }

  get runningCount(): number {
    return this.#active.size
  }

  // ---- commands -------------------------------------------------------------
  /** Synchronous: the 'queued' row is committed before this returns. `id` fixes
   *  the job's id (a schedule derives it from its tick); `also` runs in the same
   *  SQLite transaction as the insert, so both rows exist or neither does. */
  submit(spec: RunSpec, opts: { id?: string; also?: (job: Job) => void } = {}): Job {
    if (!this.#accepting) throw new SkiffError('unavailable', 'SHUTTING_DOWN', 'daemon is shutting down')
    checkPrivileges(spec, this.#d.privileges ?? { allowedCapabilities: [] })
    if (this.#queue.length >= this.#d.limits.maxQueued)
      throw new SkiffError('resource_exhausted', 'QUEUE_FULL', `job queue is full (${this.#d.limits.maxQueued} queued); retry later`)
    const job = this.#d.repo.insert(opts.id ?? ulid(), spec, this.#d.clock.now(), opts.also)
    this.#queue.push({ id: job.id, memoryBytes: spec.limits.memoryBytes ?? 0 })
    this.#publish(job)
    queueMicrotask(() => this.#dispatch())
    return job
  }

  /** Resolves with the job once it is final, or as it stands when the timeout passes. */
  wait(idOrName: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (isFinal(job.state)) return Promise.resolve(job)
    return new Promise((resolve) => {
      const onFinal = (j: Job) => {
        if (j.id === job.id) done(j)
      }
      const timer = opts.timeoutMs !== undefined ? setTimeout(() => done(this.mustGet(job.id)), opts.timeoutMs) : undefined
      const onAbort = () => done(this.mustGet(job.id))
      const done = (j: Job) => {
        clearTimeout(timer)
        this.#d.events.off('job.final', onFinal)
        opts.signal?.removeEventListener('abort', onAbort)
        resolve(j)
      }
      this.#d.events.on('job.final', onFinal)
      opts.signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async kill(idOrName: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (isFinal(job.state)) throw notRunning(job)
    const qi = this.#queue.findIndex((q) => q.id === job.id)
    if (qi >= 0) {
      this.#queue.splice(qi, 1)
      return this.#finish(job.id, 'killed', { reason: 'killed', message: 'killed while queued' })
    }
    const a = this.#active.get(job.id)
    if (!a) throw new SkiffError('conflict', 'JOB_NOT_RUNNING', `job ${job.id} has no live container`)
    a.killedByUser = true
    a.killSignal = signal
    if (a.container) await a.container.kill(signal)
    else a.abort.abort()
    return this.mustGet(job.id)
  }

  async exec(idOrName: string, cmd: string[], opts: Parameters<ContainerLike['exec']>[1] = {}) {
    const job = this.mustGet(idOrName)
    const c = this.#active.get(job.id)?.container
    if (!c || job.state !== 'running') throw notRunning(job)
    return c.exec(cmd, opts)
  }

  /** Write to an interactive job's stdin; waits while the job is still queued or
   *  starting, and while its stdin pipe is full (the job is not reading). */
  async writeStdin(idOrName: string, data: Uint8Array): Promise<void> {
    const w = await this.#stdin(idOrName)
    await w.write(data)
  }

  /** EOF for an interactive job's stdin, after everything written so far. */
  async closeStdin(idOrName: string): Promise<void> {
    const w = await this.#stdin(idOrName)
    await w.close()
  }

  async #stdin(idOrName: string): Promise<StdinLike> {
    let job = this.mustGet(idOrName)
    if (!job.spec.interactive) throw stdinNotOpen(job.id)
    // Until the job is running its stdin does not exist yet.
    while (!isFinal(job.state) && job.state !== 'running') job = await this.#nextState(job.id)
    const w = this.#active.get(job.id)?.stdin
    if (isFinal(job.state)) throw notRunning(job)
    if (!w) throw new SkiffError('conflict', 'STDIN_CLOSED', `stdin of job ${job.id} is closed: the daemon restarted since the job started, and its monitor closed it`)
    if (w.closed) throw new SkiffError('conflict', 'STDIN_CLOSED', `stdin of job ${job.id} is closed`)
    return w
  }

  #nextState(id: string): Promise<Job> {
    return new Promise((resolve) => {
      const on = (j: Job) => {
        if (j.id !== id) return
        this.#d.events.off('job.state', on)
        resolve(j)
      }
      this.#d.events.on('job.state', on)
    })
  }

  async remove(idOrName: string, opts: { force?: boolean } = {}): Promise<void> {
    let job = this.mustGet(idOrName)
    if (!isFinal(job.state)) {
      if (!opts.force) throw new SkiffError('conflict', 'JOB_RUNNING', `job ${job.id} is ${job.state}; kill it first or use force`)
      await this.kill(job.id, 'SIGKILL')
      job = await this.wait(job.id, { timeoutMs: 15_000 })
    }
    this.#d.repo.delete(job.id)
    await this.#d.logs.remove(job.id)
  }

  /** Remove every finished job (and its logs). */
  async prune(opts: { before?: Date } = {}): Promise<string[]> {
    const ids = this.#d.repo.finishedIds(opts.before)
    for (const id of ids) {
      this.#d.repo.delete(id)
      await this.#d.logs.remove(id)
    }
    return ids
  }

  // ---- lifecycle ------------------------------------------------------------
  /** Reconcile with what survived a daemon restart, then start dispatching. */
  async start(): Promise<void> {
    for (const job of this.#d.repo.unfinished()) {
      if (job.state === 'queued') {
        this.#queue.push({ id: job.id, memoryBytes: job.spec.limits.memoryBytes ?? 0 })
        continue
      }
      let found: ContainerLike | undefined
      try {
        found = job.state === 'pulling' ? undefined : await this.#d.runtime.adopt(job.id)
      } catch (e) {
        this.#d.log.warn({ err: e, job: job.id }, 'adopt failed')
      }
      if (!found) {
        this.#finish(job.id, 'failed', { reason: 'daemon-restart', message: `the daemon restarted while the job was ${job.state} and its container is gone` })
        continue
      }
      // Running or already exited: supervising it records the real exit either way.
      const a: Active = { memoryBytes: job.spec.limits.memoryBytes ?? 0, container: found, killedByUser: false, abort: new AbortController() }
      this.#active.set(job.id, a)
      if (job.state === 'starting') this.#transition(job.id, 'running', { startedAt: this.#d.clock.now(), detail: 'adopted after daemon restart' })
      void this.#supervise(job.id, a, found)
    }
    // Containers of jobs that had already ended but whose teardown a crash cut short.
    for (const id of (await this.#d.runtime.list?.()) ?? []) {
      if (this.#active.has(id)) continue
      const job = this.#d.repo.get(id)
      if (job && !isFinal(job.state)) continue
      const c = await this.#d.runtime.adopt(id, { start: false }).catch(() => undefined)
      if (c) this.#teardown(id, c)
    }
    this.#dispatch()
  }

  /** Stop accepting; containers keep running (their monitors outlive us). */
  async stop(): Promise<void> {
    this.#accepting = false
    for (const a of this.#active.values()) if (!a.container) a.abort.abort()
    await Promise.race([Promise.allSettled([...this.#teardowns]), new Promise((r) => setTimeout(r, 5000).unref())])
  }

  // ---- internals ------------------------------------------------------------
  #dispatch(): void {
    if (this.#dispatching || !this.#accepting) return
    this.#dispatching = true
    try {
      let memory = 0
      for (const a of this.#active.values()) memory += a.memoryBytes
      const ids = admit(this.#queue, { count: this.#active.size, memoryBytes: memory }, this.#d.limits)
      for (const id of ids) {
        const qi = this.#queue.findIndex((q) => q.id === id)
        const [q] = this.#queue.splice(qi, 1)
        const a: Active = { memoryBytes: q!.memoryBytes, killedByUser: false, abort: new AbortController() }
        this.#active.set(id, a)
        void this.#run(id, a)
      }
    } finally {
      this.#dispatching = false
    }
  }

  async #run(id: string, a: Active): Promise<void> {
    let job: Job
    try {
      job = this.#transition(id, 'pulling')
      const image = await this.#image(job.spec, a.abort.signal)
      if (a.killedByUser) return void this.#finish(id, 'killed', { reason: 'killed', message: 'killed before start' })
      this.#transition(id, 'starting', { imageId: image.id })
      const lowerDirs = await this.#d.images.lowerDirs(image)
      const s = job.spec
      a.container = await this.#d.runtime.create(containerSpec({ containerId: id, job, image, lowerDirs, logPath: this.#d.logs.pathFor(id) }))
      if (a.killedByUser) {
        await a.container.remove().catch(() => {})
        return void this.#finish(id, 'killed', { reason: 'killed', message: 'killed before start' })
      }
      if (s.interactive) {
        // Connected before the start, so the job can never read an early EOF.
        a.stdin = a.container.openStdin!()
        if (s.stdin !== undefined) void a.stdin.write(Buffer.from(s.stdin)).catch(() => {})
      }
      await a.container.start()
      this.#transition(id, 'running', { startedAt: this.#d.clock.now() })
      await this.#supervise(id, a, a.container)
    } catch (e) {
      const cur = this.#d.repo.get(id)
      if (cur && !isFinal(cur.state)) {
        if (a.killedByUser) this.#finish(id, 'killed', { reason: 'killed', message: 'killed before start' })
        else {
          const err = isSkiffError(e) ? e : undefined
          if (!err) this.#d.log.error({ err: e, job: id }, 'job failed unexpectedly')
          this.#finish(id, 'failed', { reason: err?.code ?? 'INTERNAL', message: err?.message ?? String(e) })
        }
      }
      a.stdin?.destroy()
      if (a.container) this.#teardown(id, a.container)
    } finally {
      this.#release(id)
    }
  }

  /** Wait for a live container to end, record how, then clean it up. */
  async #supervise(id: string, a: Active, c: ContainerLike): Promise<void> {
    try {
      const exit = await c.wait()
      this.#recordExit(id, exit, a.killedByUser)
    } catch (e) {
      const err = isSkiffError(e) ? e : undefined
      this.#finish(id, 'failed', { reason: err?.code ?? 'INTERNAL', message: err?.message ?? String(e) })
    } finally {
      a.stdin?.destroy()
      this.#release(id)
      // Removal (unmount, runtime delete, cgroup) happens after the exit is
      // recorded: waiters get their answer without paying for teardown.
      this.#teardown(id, c)
    }
  }

  /** Container teardown runs after the exit is recorded; stop() waits for it so a
   *  daemon shutting down leaves no mount or cgroup behind. */
  #teardown(id: string, c: ContainerLike): void {
    const p = c.remove().catch((err) => this.#d.log.warn({ err, job: id }, 'container cleanup failed'))
    this.#teardowns.add(p)
    void p.finally(() => this.#teardowns.delete(p))
  }

  #recordExit(id: string, exit: ExitStatusLike, killedByUser: boolean): void {
    const state = finalStateFor(exit, killedByUser)
    this.#finish(id, state, {
      exitCode: exit.exitCode,
      signal: exit.signal,
      oomKilled: exit.oomKilled,
      timedOut: exit.timedOut,
      usage: exit.usage,
      reason: state === 'exited' ? null : state,
    })
  }

  #release(id: string): void {
    if (this.#active.delete(id)) this.#dispatch()
  }

  async #image(spec: RunSpec, signal: AbortSignal): Promise<ImageRecord> {
    if (spec.pull !== 'always') {
      const have = this.#d.images.resolve(spec.image)
      if (have) return have
      if (spec.pull === 'never')
        throw new SkiffError('failed_precondition', 'IMAGE_NOT_PRESENT', `image ${spec.image} is not present locally and pull is "never"`, { field: 'image' })
    }
    return this.#d.images.pull(spec.image, { signal })
  }

  #transition(id: string, to: JobState, patch: TransitionPatch = {}): Job {
    const job = this.#d.repo.transition(id, to, this.#d.clock.now(), patch)
    this.#publish(job)
    return job
  }

  #finish(id: string, to: JobState, patch: TransitionPatch): Job {
    return this.#transition(id, to, { finishedAt: this.#d.clock.now(), ...patch })
  }

  #publish(job: Job): void {
    this.#d.events.emit('job.state', job)
    if (isFinal(job.state)) this.#d.events.emit('job.final', job)
  }
}
