import { monotonicFactory } from 'ulid'
import type { EventBus } from '../events.js'
import type { Clock } from '../lib/clock.js'
import { isSkiffError, SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import type { AdmissionLimits } from './admission.js'
import { Dispatcher } from './dispatcher.js'
import { JobRepo, jobIdOfContainer } from './job-repo.js'
import { checkPrivileges, type PrivilegePolicy } from './privileges.js'
import { isFinal } from './job-state.js'
import type { ConnectionJobs, ContainerLike, ImagesPort, KillReason, ListenersPort, LogsPort, NetworksPort, RuntimePort, StdinLike } from './ports.js'
import { connectionsToPrune } from './per-connection.js'
import { bootAction } from './reconcile.js'
import type { Backoff, RestartPolicy } from './restart-policy.js'
import { StateWriter } from './state-writer.js'
import { DEFAULT_STOP_TIMEOUT_MS, policyOf, Supervisor } from './supervisor.js'
import type { Attempt, ConnectionCounts, Job, JobEvent, JobQuery, Page, RunSpec } from './types.js'

export interface JobServiceDeps {
  repo: JobRepo
  images: ImagesPort
  runtime: RuntimePort
  logs: LogsPort
  clock: Clock
  log: Logger
  events: EventBus
  limits: AdmissionLimits & { maxQueued: number }
  /** [0, 1) for backoff jitter (tests pass a constant) */
  random?: () => number
  /** what jobs may ask for beyond the defaults (absent: nothing) */
  privileges?: PrivilegePolicy
  /** networks.ts: bridge networks, published ports (absent: only none and host work) */
  networks?: NetworksPort
  /** per-connection listeners (listener.ts; absent: a job with `listen` fails) */
  listeners?: ListenersPort
}

/** What the HTTP layer (and schedules) need from the scheduler: the façade's
 *  public surface, so they depend on this interface, not on the class. */
export interface Scheduler {
  submit(spec: RunSpec, opts?: { id?: string; also?: (job: Job) => void; parentId?: string }): Job
  get(idOrName: string): Job | undefined
  mustGet(idOrName: string): Job
  list(q: JobQuery): Page<Job>
  events(idOrName: string): JobEvent[]
  attempts(idOrName: string): Attempt[]
  wait(idOrName: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<Job>
  kill(idOrName: string, signal?: NodeJS.Signals, why?: KillReason): Promise<Job>
  /** A listener's connections (RunSpec.listen); undefined for any other job. */
  connections(job: Job): ConnectionCounts | undefined
  stop(idOrName: string, opts?: { timeoutMs?: number }): Promise<Job>
  start(idOrName: string): Job
  restart(idOrName: string, opts?: { timeoutMs?: number }): Promise<Job>
  update(idOrName: string, patch: { restart?: RestartPolicy; backoff?: Backoff }): Job
  exec(idOrName: string, cmd: string[], opts?: Parameters<ContainerLike['exec']>[1]): ReturnType<ContainerLike['exec']>
  resize(idOrName: string, rows: number, cols: number): Promise<void>
  writeStdin(idOrName: string, data: Uint8Array): Promise<void>
  closeStdin(idOrName: string): Promise<void>
  remove(idOrName: string, opts?: { force?: boolean }): Promise<void>
  prune(opts?: { before?: Date }): Promise<string[]>
  readonly queueDepth: number
  readonly runningCount: number
}

/** Job ids sort in submission order even within one millisecond: the queue's
 *  FIFO order falls back to the id when two jobs entered it at the same time. */
const ulid = monotonicFactory()

export const notFound = (id: string) => new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)
export const ambiguousId = (prefix: string, ids: string[]) =>
  new SkiffError('conflict', 'AMBIGUOUS_JOB_ID', `job id prefix ${JSON.stringify(prefix)} matches ${ids.length > 10 ? 'more than 10' : ids.length} jobs: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`, { field: 'id', detail: { matches: ids.slice(0, 10) } })
export const notRunning = (j: { id: string; state: string }) => new SkiffError('conflict', 'JOB_NOT_RUNNING', `job ${j.id} is not running (state ${j.state})`)
export const stdinNotOpen = (id: string) => new SkiffError('conflict', 'STDIN_NOT_OPEN', `job ${id} was not started with an open stdin (run it with "interactive": true)`)

/** The scheduler's façade. A job: submit (persisted before the ack) → the
 *  dispatcher claims it from the queue under admission → the supervisor runs an
 *  attempt (pull → create → start), waits for it, records how it ended and asks
 *  the restart policy what follows: settle, or back off and queue again. Every
 *  transition is committed before it is acted on. */
export class JobService implements Scheduler, ConnectionJobs {
  readonly #d: JobServiceDeps
  readonly #writer: StateWriter
  readonly #dispatcher: Dispatcher
  readonly #sup: Supervisor
  #accepting = true

  constructor(deps: JobServiceDeps) {
    this.#d = deps
    this.#writer = new StateWriter(deps.repo, deps.events, deps.clock)
    this.#sup = new Supervisor({
      writer: this.#writer, images: deps.images, runtime: deps.runtime, logs: deps.logs, clock: deps.clock, log: deps.log, random: deps.random, networks: deps.networks, listeners: deps.listeners,
      kick: () => this.#dispatcher.kick(),
    })
    this.#dispatcher = new Dispatcher({ repo: deps.repo, clock: deps.clock, limits: deps.limits, active: () => this.#sup.active(), run: (job) => this.#sup.run(job) })
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

  events(idOrName: string): JobEvent[] {
    return this.#d.repo.events(this.mustGet(idOrName).id)
  }

  attempts(idOrName: string): Attempt[] {
    return this.#d.repo.attempts(this.mustGet(idOrName).id)
  }

  connections(job: Job): ConnectionCounts | undefined {
    if (!job.spec.listen) return undefined
    return { active: this.#d.repo.activeChildren(job.id), total: job.connTotal, refused: job.connRefused }
  }

  get queueDepth(): number {
    return this.#dispatcher.depth
  }

  get runningCount(): number {
    return this.#sup.live.size
  }

  // ---- commands -------------------------------------------------------------
  /** Synchronous: the 'queued' row is committed before this returns. `id` fixes
   *  the job's id (a schedule derives it from its tick); `also` runs in the same
   *  SQLite transaction as the insert, so both rows exist or neither does. */
  submit(spec: RunSpec, opts: { id?: string; also?: (job: Job) => void; parentId?: string } = {}): Job {
    if (!this.#accepting) throw new SkiffError('unavailable', 'SHUTTING_DOWN', 'daemon is shutting down')
    checkPrivileges(spec, this.#d.privileges ?? { allowedCapabilities: [] })
    this.#dispatcher.assertCapacity()
    const job = this.#d.repo.insert(opts.id ?? ulid(), spec, this.#d.clock.now(), opts.also, opts.parentId)
    this.#writer.publish(job)
    this.#dispatcher.kick()
    return job
  }

  /** Resolves with the job once it is settled, or as it stands when the timeout passes. */
  wait(idOrName: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (isFinal(job.state)) return Promise.resolve(job)
    return new Promise((resolve) => {
      const onFinal = (j: Job) => {
        if (j.id === job.id) done(j)
      }
      // a request's own deadline, not a scheduling decision: the real clock
      const timer = opts.timeoutMs !== undefined ? setTimeout(() => done(this.get(job.id) ?? job), opts.timeoutMs) : undefined
      const onAbort = () => done(this.get(job.id) ?? job)
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

  async kill(idOrName: string, signal: NodeJS.Signals = 'SIGKILL', why?: KillReason): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (isFinal(job.state)) throw notRunning(job)
    if (job.state === 'queued' || job.state === 'backoff') {
      this.#sup.cancelBackoff(job.id)
      const killed = this.#writer.settle(job.id, 'killed', why ?? { reason: 'killed', message: `killed while ${job.state}` })
      this.#sup.removeLayerOnSettle(job.id)
      return killed
    }
    const live = this.#sup.live.get(job.id)
    if (!live) throw new SkiffError('conflict', 'JOB_NOT_RUNNING', `job ${job.id} has no live container`)
    await this.#sup.kill(live, signal, why)
    return this.mustGet(job.id)
  }

  /** A listener refused a connection (max_connections, queue full, closing). */
  countRefused(listenerId: string): void {
    this.#d.repo.countRefused(listenerId)
  }

  async pruneConnections(listenerId: string, keep: number): Promise<void> {
    for (const id of connectionsToPrune(this.#d.repo.settledChildIds(listenerId), keep)) {
      // one at a time, each with its logs and layer; a job another caller removes meanwhile is skipped
      await this.remove(id).catch((err) => { if (!isSkiffError(err, 'JOB_NOT_FOUND')) this.#d.log.warn({ err, job: id }, 'old connection job removal failed') })
    }
  }

  /** Resolves once the job is running (its stdin and log exist), or settled without having run. */
  async started(idOrName: string): Promise<Job> {
    let job = this.mustGet(idOrName)
    // re-read after each event: one may have come while this was not listening
    while (!isFinal(job.state) && job.state !== 'running') job = (await this.#nextState(job.id), this.get(job.id) ?? job)
    return job
  }

  /** docker stop: the stop signal, SIGKILL after the timeout; resolves once the
   *  job is `stopped`. A stopped job stays stopped until started (also across
   *  daemon restarts, unless its policy is `always`). */
  async stop(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (isFinal(job.state)) return job
    const timeoutMs = opts.timeoutMs ?? job.spec.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS
    if (job.state === 'queued' || job.state === 'backoff') {
      this.#sup.cancelBackoff(job.id)
      const stopped = this.#writer.settle(job.id, 'stopped', { reason: 'stopped', message: `stopped while ${job.state}`, stoppedByUser: true })
      this.#sup.removeLayerOnSettle(job.id)
      return stopped
    }
    const live = this.#sup.live.get(job.id)
    if (!live) throw new SkiffError('conflict', 'JOB_NOT_RUNNING', `job ${job.id} has no live container`)
    const settled = this.wait(job.id)
    // persisted first: a daemon that dies now finishes the stop when it comes back
    this.#writer.update(job.id, { stoppedByUser: true, stopDeadline: new Date(this.#d.clock.now().getTime() + timeoutMs) })
    this.#sup.stop(live, timeoutMs)
    return settled
  }

  /** docker start: a settled job gets a new attempt (its restart budget and
   *  backoff start over); an active one is left as it is. */
  start(idOrName: string): Job {
    const job = this.mustGet(idOrName)
    if (!isFinal(job.state)) return job
    if (!this.#accepting) throw new SkiffError('unavailable', 'SHUTTING_DOWN', 'daemon is shutting down')
    const queued = this.#requeue(job.id, 'started by user')
    this.#dispatcher.kick()
    return queued
  }

  /** docker restart: stop (if active), then start. */
  async restart(idOrName: string, opts: { timeoutMs?: number } = {}): Promise<Job> {
    const job = this.mustGet(idOrName)
    if (job.state === 'backoff') this.#sup.cancelBackoff(job.id)
    if (job.state === 'backoff' || job.state === 'queued') {
      const j = job.state === 'backoff' ? this.#writer.transition(job.id, 'queued', { queuedAt: this.#d.clock.now(), nextAttemptAt: null, detail: 'restarted by user' }) : job
      this.#dispatcher.kick()
      return j
    }
    if (!isFinal(job.state)) await this.stop(job.id, opts)
    return this.start(job.id)
  }

  #requeue(id: string, detail: string): Job {
    return this.#writer.transition(id, 'queued', {
      queuedAt: this.#d.clock.now(), stoppedByUser: false, failures: 0, backoffStep: 0, nextAttemptAt: null, stopDeadline: null, finishedAt: null, detail,
    })
  }

  /** docker update --restart: the policy (and backoff) of an existing job; it
   *  applies from the next time an attempt ends. */
  update(idOrName: string, patch: { restart?: RestartPolicy; backoff?: Backoff }): Job {
    const job = this.mustGet(idOrName)
    const spec: RunSpec = { ...job.spec, ...(patch.restart ? { restart: patch.restart } : {}), ...(patch.backoff ? { backoff: patch.backoff } : {}) }
    return this.#writer.update(job.id, { spec })
  }

  /** Resize a tty job's terminal (docker's POST /containers/:id/resize). */
  async resize(idOrName: string, rows: number, cols: number): Promise<void> {
    const job = this.mustGet(idOrName)
    if (!job.spec.tty) throw new SkiffError('conflict', 'NOT_A_TERMINAL', `job ${job.id} has no terminal (run it with "tty": true)`, { field: 'tty' })
    const c = this.#sup.live.get(job.id)?.container
    if (!c?.resize || job.state !== 'running') throw notRunning(job)
    await c.resize(rows, cols)
  }

  async exec(idOrName: string, cmd: string[], opts: Parameters<ContainerLike['exec']>[1] = {}) {
    const job = this.mustGet(idOrName)
    const c = this.#sup.live.get(job.id)?.container
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
    const w = this.#sup.live.get(job.id)?.stdin
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
      if (!opts.force) throw new SkiffError('conflict', 'JOB_RUNNING', `job ${job.id} is ${job.state}; stop it first or use force`)
      const settled = this.wait(job.id, { timeoutMs: 15_000 })
      await this.kill(job.id, 'SIGKILL')
      job = await settled
    }
    await this.#sup.teardownDone(job.id)
    // a listener's connections go with it (they are settled: its kill waited for them)
    for (const child of this.#d.repo.childIds(job.id)) await this.remove(child, { force: true }).catch((err) => this.#d.log.warn({ err, job: child }, 'connection job removal failed'))
    this.#d.repo.delete(job.id)
    await Promise.all([this.#d.logs.remove(job.id), this.#d.runtime.removeLayer?.(job.id)])
  }

  /** Remove every settled job (and its logs). */
  async prune(opts: { before?: Date } = {}): Promise<string[]> {
    const ids = this.#d.repo.finishedIds(opts.before)
    for (const id of ids) {
      await this.#sup.teardownDone(id)
      this.#d.repo.delete(id)
      await Promise.all([this.#d.logs.remove(id), this.#d.runtime.removeLayer?.(id)])
    }
    return ids
  }

  // ---- lifecycle ------------------------------------------------------------
  /** Reconcile with what survived a daemon restart (reconcile.ts), then dispatch. */
  async boot(): Promise<void> {
    const held = new Set<string>()
    const unfinished = this.#d.repo.unfinished()
    // Connections first: their sockets died with the last daemon, so their jobs end
    // (before a re-opened listener takes new ones).
    for (const job of unfinished) if (job.parentId) await this.#endConnection(job, held)
    for (const job of [...unfinished.filter((j) => !j.parentId), ...this.#d.repo.settledRestartable()]) {
      switch (bootAction({ state: job.state, stoppedByUser: job.stoppedByUser, restart: policyOf(job.spec) })) {
        case 'arm-backoff':
          this.#sup.armBackoff(job.id, job.nextAttemptAt ?? this.#d.clock.now())
          break
        case 'requeue':
          this.#writer.transition(job.id, 'queued', { queuedAt: this.#d.clock.now(), detail: 'retried: the daemon restarted during the pull' }, {
            state: 'failed', reason: 'daemon-restart', message: 'the daemon restarted during the pull', finishedAt: this.#d.clock.now(),
          })
          break
        case 'start':
          this.#requeue(job.id, 'restarted on daemon start (restart policy)')
          break
        case 'adopt': {
          const containerId = this.#d.repo.attempts(job.id).at(-1)?.containerId ?? job.id
          held.add(containerId)
          let found: ContainerLike | undefined
          // prepared ahead of its time and not started yet: not started now either; made again when due
          const early = job.state === 'starting' && !!job.spec.notBefore && Date.parse(job.spec.notBefore) > this.#d.clock.now().getTime()
          try {
            found = job.spec.listen ? await this.#reopen(job, containerId) : await this.#d.runtime.adopt(containerId, early ? { start: false } : {})
          } catch (e) {
            this.#d.log.warn({ err: e, job: job.id }, 'adopt failed')
            if (job.spec.listen) {
              this.#sup.lost(job, `the daemon restarted and the listener could not be re-opened: ${(e as Error).message}`)
              break
            }
          }
          if (found && early) {
            this.#sup.teardown(job.id, found)
            found = undefined
          }
          if (found) {
            const j = job.state === 'starting' ? this.#writer.transition(job.id, 'running', { startedAt: this.#d.clock.now(), detail: 'adopted after daemon restart' }, { state: 'running', startedAt: this.#d.clock.now() }) : job
            this.#sup.adopt(j, found)
          } else if (job.state === 'starting') {
            // the workload never ran (its container was not made, or not started): try again, uncounted
            this.#writer.transition(job.id, 'queued', { queuedAt: this.#d.clock.now(), detail: 'retried: the daemon restarted while the job was starting' }, {
              state: 'failed', reason: 'daemon-restart', message: 'the daemon restarted before the container started', finishedAt: this.#d.clock.now(),
            })
          } else this.#sup.lost(job, `the daemon restarted while the job was ${job.state} and its container is gone`)
          break
        }
      }
    }
    // Containers of attempts that had already ended but whose teardown a crash cut short.
    for (const id of (await this.#d.runtime.list?.()) ?? []) {
      if (held.has(id)) continue
      const c = await this.#d.runtime.adopt(id, { start: false }).catch(() => undefined)
      // keyed by its job: the job's next attempt mounts the same writable layer only after this
      if (c) this.#sup.teardown(jobIdOfContainer(id), c)
    }
    this.#dispatcher.start()
  }

  /** A listener's state is in its row: a restarted daemon listens again. */
  async #reopen(job: Job, containerId: string): Promise<ContainerLike> {
    if (!this.#d.listeners) throw new SkiffError('unavailable', 'LISTEN_UNAVAILABLE', 'this daemon has no per-connection listeners')
    const l = this.#d.listeners.open(job, containerId)
    await l.start()
    return l
  }

  /** A connection's job found at boot: its socket is gone, so it ends — killed
   *  if its container still runs, recorded as lost if not. */
  async #endConnection(job: Job, held: Set<string>): Promise<void> {
    const why = { reason: 'connection-lost', message: `the daemon restarted while the job was ${job.state}: its connection is gone` }
    if (job.state === 'queued' || job.state === 'backoff' || job.state === 'pulling') return void this.#writer.settle(job.id, 'killed', why, job.state === 'pulling' ? { state: 'killed', ...why } : undefined)
    const containerId = this.#d.repo.attempts(job.id).at(-1)?.containerId ?? job.id
    held.add(containerId)
    const found = await this.#d.runtime.adopt(containerId).catch(() => undefined)
    if (!found) return void this.#writer.settle(job.id, 'killed', why, { state: 'killed', ...why })
    const j = job.state === 'starting' ? this.#writer.transition(job.id, 'running', { startedAt: this.#d.clock.now(), detail: 'adopted after daemon restart' }, { state: 'running', startedAt: this.#d.clock.now() }) : job
    this.#sup.adopt(j, found)
    await this.#sup.kill(this.#sup.live.get(job.id)!, 'SIGKILL', why).catch((err) => this.#d.log.warn({ err, job: job.id }, 'kill of a lost connection failed'))
  }

  /** Stop accepting; containers keep running (their monitors outlive us). */
  async shutdown(): Promise<void> {
    this.#accepting = false
    this.#dispatcher.stop()
    await this.#sup.shutdown()
  }
}
