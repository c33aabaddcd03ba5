import type { Clock } from '../lib/clock.js'
import { isSkiffError, noSpaceCode, type ErrorKind } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { AttemptCancelled, runAttempt, stopSignalFor } from './attempt.js'
import { fromImageHealthcheck, HEALTH_DEFAULTS, type HealthConfig } from './health.js'
import { HealthMonitor } from './health-monitor.js'
import { containerIdFor, type AttemptPatch, type JobPatch } from './job-repo.js'
import { finalStateFor, isFinal, type JobState } from './job-state.js'
import type { LiveAttempt } from './live.js'
import type { ContainerLike, ExitStatusLike, ImagesPort, KillReason, ListenersPort, LogsPort, RuntimePort, NetworksPort } from './ports.js'
import { decideRestart, DEFAULT_BACKOFF, type AttemptEnding, type RestartPolicy } from './restart-policy.js'
import type { StateWriter } from './state-writer.js'
import type { Job, RunSpec } from './types.js'

export interface SupervisorDeps {
  writer: StateWriter
  images: ImagesPort
  runtime: RuntimePort
  logs: LogsPort
  clock: Clock
  log: Logger
  /** a slot was freed or a job re-entered the queue: dispatch */
  kick(): void
  /** [0, 1): jitter for backoff delays */
  random?: () => number
  /** bridge networks and published ports (networks.ts) */
  networks?: NetworksPort
  /** per-connection listeners (listener.ts) */
  listeners?: ListenersPort
}

/** docker: 10 s between the stop signal and SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000

/** Errors that are the request's fault: another attempt would fail the same way. */
const CALLER_FAULT: ReadonlySet<ErrorKind> = new Set(['invalid_argument', 'not_found', 'failed_precondition', 'permission_denied', 'unauthenticated'])

export const policyOf = (s: RunSpec): RestartPolicy => s.restart ?? { mode: 'no' }
export const backoffOf = (s: RunSpec) => s.backoff ?? DEFAULT_BACKOFF

/**
 * Holds every attempt in progress and decides what follows each one: it runs
 * the attempt (attempt.ts), waits for its container, records how it ended,
 * asks the pure restart policy whether another attempt follows and after how
 * long, and keeps the timers that implies — backoff, stop grace periods,
 * healthchecks — all on the injected Clock. Restart policy and reschedule are
 * split as in Nomad: the policy only decides; this only acts.
 */
export class Supervisor {
  readonly live = new Map<string, LiveAttempt>()
  readonly #backoff = new Map<string, { cancel(): void }>()
  /** the last container teardown of each job still in progress */
  readonly #teardowns = new Map<string, Promise<void>>()
  #shuttingDown = false

  constructor(private readonly d: SupervisorDeps) {}

  active(): { count: number; memoryBytes: number } {
    let memoryBytes = 0
    let count = 0
    for (const l of this.live.values()) {
      // a listener runs nothing itself: its connections' jobs take the slots
      if (l.listener) continue
      count++
      memoryBytes += l.memoryBytes
    }
    return { count, memoryBytes }
  }

  // ---- starting attempts ----------------------------------------------------
  /** Run a claimed job's attempt (it is `pulling`, attempt row open) to its end. */
  run(job: Job): void {
    const live = this.#newLive(job)
    void this.#guard(job.id, live, async () => {
      await runAttempt(job, live, { ...this.d, previousTeardown: (id) => this.teardownDone(id) }, containerIdFor(job.id, job.attempt))
      this.#deliverPending(live)
      await this.#watch(job, live)
    })
  }

  /** Supervise a container that outlived the daemon (running, or already exited:
   *  waiting on it records its real exit either way). */
  adopt(job: Job, container: ContainerLike): void {
    const live = this.#newLive(job)
    live.container = container
    live.startedAtMs = (job.startedAt ?? job.createdAt).getTime()
    const image = job.imageId ? (this.d.images.resolve(job.imageId) ?? this.d.images.resolve(job.spec.image)) : undefined
    live.imageConfig = image?.config
    live.stopSignal = stopSignalFor(job.spec, image)
    if (job.stopDeadline) {
      // a stop was under way when the daemon died: finish it on the old schedule
      live.userStop = true
      this.#armStopKill(live, job.stopDeadline.getTime() - this.d.clock.now().getTime())
    }
    void this.#guard(job.id, live, () => this.#watch(job, live))
  }

  /** An attempt whose container did not survive the daemon's absence: a platform
   *  failure (never counted against the job), so the restart policy decides. */
  lost(job: Job, message: string): void {
    this.#end(job, { cause: 'platform', success: false, ranForMs: 0 }, 'failed', { reason: 'daemon-restart', message })
  }

  #newLive(job: Job): LiveAttempt {
    const live: LiveAttempt = { jobId: job.id, n: job.attempt, memoryBytes: job.spec.limits.memoryBytes ?? 0, abort: new AbortController(), stopSignal: stopSignalFor(job.spec), ...(job.spec.listen ? { listener: true } : {}) }
    this.live.set(job.id, live)
    return live
  }

  async #guard(jobId: string, live: LiveAttempt, body: () => Promise<void>): Promise<void> {
    try {
      await body()
    } catch (e) {
      await this.#untilRecorded(jobId, () => this.#failed(jobId, live, e))
    } finally {
      this.#release(jobId, live)
    }
  }

  /** Record how an attempt ended, again each second while the database has no room
   *  for it (SQLITE_FULL on a full data dir): the end is known and must not be lost,
   *  and a throw here would take the daemon down. Each try is one transaction. */
  async #untilRecorded(jobId: string, record: () => void): Promise<void> {
    for (let warned = false; ; warned = true) {
      try {
        return record()
      } catch (e) {
        if (!noSpaceCode(e) || this.#shuttingDown) throw e
        if (!warned) this.d.log.warn({ err: e, job: jobId }, 'no room to record the end of a job; retrying every second')
        await new Promise<void>((r) => this.d.clock.setTimeout(r, 1000))
      }
    }
  }

  async #watch(job: Job, live: LiveAttempt): Promise<void> {
    const c = live.container!
    this.#startHealth(job, live, c)
    const exit = await c.wait()
    await this.#untilRecorded(job.id, () => this.#exited(job.id, live, exit))
  }

  /** A stop or kill asked for while the container was being started. */
  #deliverPending(live: LiveAttempt): void {
    if (live.userStop) this.#signalStop(live, this.#stopTimeout(live))
    else if (live.userKill) void live.container?.kill(live.userKill.signal).catch((err) => this.d.log.warn({ err, job: live.jobId }, 'kill failed'))
  }

  // ---- user actions on a live attempt ---------------------------------------
  /** Stop: the stop signal now, SIGKILL after `timeoutMs`. The attempt ends `stopped`. */
  stop(live: LiveAttempt, timeoutMs: number): void {
    live.userStop = true
    if (live.startedAtMs === undefined) return void live.abort.abort() // not started: the attempt cancels itself
    this.#signalStop(live, timeoutMs)
  }

  /** Kill with a signal. SIGKILL or the stop signal is a manual stop (never restarted);
   *  another signal the process dies of is its own exit, under its restart policy. */
  async kill(live: LiveAttempt, signal: NodeJS.Signals, why?: KillReason): Promise<void> {
    live.userKill = { signal, manual: signal === 'SIGKILL' || signal === live.stopSignal }
    if (why) live.endReason = why
    if (live.startedAtMs === undefined) return void live.abort.abort()
    await live.container!.kill(signal)
  }

  #signalStop(live: LiveAttempt, timeoutMs: number): void {
    void live.container?.kill(live.stopSignal).catch((err) => this.d.log.warn({ err, job: live.jobId }, 'stop signal failed'))
    this.#armStopKill(live, timeoutMs)
  }

  #armStopKill(live: LiveAttempt, ms: number): void {
    live.stopTimer?.cancel()
    live.stopTimer = this.d.clock.setTimeout(() => {
      void live.container?.kill('SIGKILL').catch((err) => this.d.log.warn({ err, job: live.jobId }, 'stop kill failed'))
    }, Math.max(0, ms))
  }

  #stopTimeout(live: LiveAttempt): number {
    const j = this.d.writer.repo.get(live.jobId)
    return j?.stopDeadline ? Math.max(0, j.stopDeadline.getTime() - this.d.clock.now().getTime()) : (j?.spec.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)
  }

  // ---- health ---------------------------------------------------------------
  #startHealth(job: Job, live: LiveAttempt, c: ContainerLike): void {
    const cfg = live.listener ? undefined : healthConfigOf(job.spec, live.imageConfig?.Healthcheck)
    if (!cfg) return
    // resumed after a daemon restart: the same attempt keeps its health history
    const resume = job.state === 'running' && job.attempt === live.n && job.health ? job.health : undefined
    live.health = new HealthMonitor(cfg, c, live.startedAtMs ?? this.d.clock.now().getTime(), {
      clock: this.d.clock,
      log: this.d.log,
      record: (health) => {
        if (this.live.get(job.id) === live) this.d.writer.update(job.id, { health })
      },
      onUnhealthy: () => this.#unhealthy(job, live),
    }, resume)
    live.health.start()
  }

  #unhealthy(job: Job, live: LiveAttempt): void {
    const action = job.spec.onUnhealthy ?? 'none'
    this.d.log.info({ job: job.id, action }, 'job is unhealthy')
    if (action === 'none') return
    const timeout = job.spec.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS
    if (action === 'restart') {
      live.unhealthyRestart = true
      this.#signalStop(live, timeout)
    } else if (action === 'stop') {
      this.d.writer.update(job.id, { stoppedByUser: true })
      this.stop(live, timeout)
    } else void live.container?.kill('SIGKILL').catch(() => {})
  }

  // ---- how an attempt ended -------------------------------------------------
  #exited(jobId: string, live: LiveAttempt, exit: ExitStatusLike): void {
    const job = this.d.writer.repo.get(jobId)
    if (!job || isFinal(job.state) || job.attempt !== live.n) return
    const ended = finalStateFor(exit, { killedByUser: !!live.userKill, stoppedByUser: !!live.userStop })
    // no exit code to say it succeeded: not 'exited' (a user's kill or stop stays what it was)
    const outcome = exit.exitUnknown && ended === 'exited' ? 'failed' : ended
    const success = exit.exitCode === 0 && !exit.signal && !exit.oomKilled && !exit.timedOut
    const cause: AttemptEnding['cause'] = live.userStop || live.userKill?.manual ? 'user' : live.unhealthyRestart ? 'unhealthy' : 'workload'
    const unknown = exit.exitUnknown ? "the job's monitor (conmon) ended without recording its exit code; it could not write it to the data dir (is its filesystem full?)" : undefined
    const reason = live.unhealthyRestart ? 'unhealthy' : outcome === 'killed' && live.endReason ? live.endReason.reason : unknown && outcome === 'failed' ? 'exit_unknown' : outcome === 'exited' ? null : outcome
    const killedWhy = outcome === 'killed' ? (live.endReason?.message ?? null) : null
    const message = unknown ? (killedWhy ? `${killedWhy}; ${unknown}` : unknown) : killedWhy
    // the exit is the job's; a log that lost output to a full disk says so next to it
    this.d.logs.writerDone?.(jobId)
    const lost = this.d.logs.noSpaceLoss?.(jobId)
    const logNote = lost ? `log truncated: the data dir's filesystem was full (ENOSPC); ${lost} bytes of older output were dropped so the job could go on writing (lines written while it was full may be missing too)` : undefined
    this.#end(job, { cause, success, ranForMs: exit.usage.wallMs }, outcome, {
      exitCode: exit.exitCode,
      signal: exit.signal,
      oomKilled: exit.oomKilled,
      timedOut: exit.timedOut,
      usage: exit.usage,
      reason: reason ?? (logNote ? 'log_truncated' : null),
      message: logNote ? (message ? `${message}; ${logNote}` : logNote) : message,
    })
  }

  #failed(jobId: string, live: LiveAttempt, e: unknown): void {
    const job = this.d.writer.repo.get(jobId)
    if (!job || isFinal(job.state) || job.state === 'backoff' || job.state === 'queued' || job.attempt !== live.n) return
    // A pull cut short by our own shutdown: left as is, the next daemon retries it.
    if (this.#shuttingDown && live.abort.signal.aborted && !live.userStop && !live.userKill) return
    if (live.userStop || live.userKill) {
      const to = live.userStop ? 'stopped' : 'killed'
      const cols = !live.userStop && live.endReason ? live.endReason : { reason: to, message: `${to} before the job started` }
      return void this.d.writer.settle(jobId, to, cols, { state: to, ...cols })
    }
    const err = isSkiffError(e) ? e : undefined
    if (!err && !(e instanceof AttemptCancelled)) this.d.log.error({ err: e, job: jobId }, 'job failed unexpectedly')
    const cols = { reason: err?.code ?? 'INTERNAL', message: err?.message ?? String(e), exitCode: null, signal: null, oomKilled: false, timedOut: false, usage: null }
    // A command missing from the image or not executable is the workload's own
    // failure (docker's 127/126): it counts against on-failure's budget.
    if (err?.code === 'EXECUTABLE_NOT_FOUND' || err?.code === 'EXECUTABLE_NOT_RUNNABLE') return this.#end(job, { cause: 'workload', success: false, ranForMs: 0 }, 'failed', cols)
    if (err && CALLER_FAULT.has(err.kind)) return void this.d.writer.settle(jobId, 'failed', cols, { state: 'failed', ...cols })
    this.#end(job, { cause: 'platform', success: false, ranForMs: 0 }, 'failed', cols)
  }

  /** Record the attempt's end and either settle the job or back off for the next attempt. */
  #end(job: Job, ending: AttemptEnding, outcome: JobState & AttemptPatch['state'], cols: JobPatch & { reason: string | null; message: string | null }): void {
    const now = this.d.clock.now()
    const attempt: AttemptPatch = { state: outcome, ...cols, finishedAt: now }
    const policy = policyOf(job.spec)
    const d = decideRestart(policy, backoffOf(job.spec), job, ending, (this.d.random ?? Math.random)())
    if (d.restart) {
      const at = new Date(now.getTime() + d.delayMs)
      const why = ending.cause === 'platform' ? `after ${cols.reason}` : ending.cause === 'unhealthy' ? 'unhealthy' : cols.exitCode !== null && cols.exitCode !== undefined ? `exit ${cols.exitCode}` : `${cols.signal ?? outcome}`
      this.d.writer.transition(job.id, 'backoff', {
        ...cols, restarts: job.restarts + 1, failures: d.next.failures, backoffStep: d.next.backoffStep, nextAttemptAt: at, stopDeadline: null,
        detail: `restart ${job.restarts + 1} in ${d.delayMs} ms (${why})`,
      }, attempt)
      this.armBackoff(job.id, at)
      return
    }
    const detail = d.reason === 'max-retries' && policy.mode === 'on-failure' ? `not restarted: on-failure:${policy.maxRetries} used up` : undefined
    this.d.writer.settle(job.id, outcome, { ...cols, detail }, attempt)
  }

  #release(jobId: string, live: LiveAttempt): void {
    live.health?.stop()
    live.stopTimer?.cancel()
    live.stdin?.destroy()
    if (this.live.get(jobId) === live) this.live.delete(jobId)
    this.d.kick()
    // Removal (unmount, runtime delete, cgroup) happens after the exit is
    // recorded: waiters get their answer without paying for teardown.
    if (live.container) this.teardown(jobId, live.container)
    else this.removeLayerOnSettle(jobId)
  }

  // ---- backoff --------------------------------------------------------------
  /** Re-queue the job at `at` (immediately if that has passed: a daemon restart). */
  armBackoff(jobId: string, at: Date): void {
    this.#backoff.get(jobId)?.cancel()
    if (this.#shuttingDown) return
    const t = this.d.clock.setTimeout(() => {
      this.#backoff.delete(jobId)
      const job = this.d.writer.repo.get(jobId)
      if (job?.state !== 'backoff') return
      this.d.writer.transition(jobId, 'queued', { queuedAt: this.d.clock.now(), nextAttemptAt: null, detail: `attempt ${job.attempt + 1} (restart ${job.restarts})` })
      this.d.kick()
    }, Math.max(0, at.getTime() - this.d.clock.now().getTime()))
    this.#backoff.set(jobId, t)
  }

  cancelBackoff(jobId: string): void {
    this.#backoff.get(jobId)?.cancel()
    this.#backoff.delete(jobId)
  }

  // ---- teardown and shutdown ------------------------------------------------
  /** Container teardown runs after the exit is recorded; shutdown waits for it so
   *  a daemon that stops leaves no mount or cgroup behind. Teardowns of one job
   *  run in order (its writable layer is shared by its attempts). */
  teardown(jobId: string, c: ContainerLike): void {
    const p: Promise<void> = this.teardownDone(jobId)
      .then(() => c.remove())
      .catch((err) => this.d.log.warn({ err, job: jobId }, 'container cleanup failed'))
      .then(() => this.#dropLayerIfSettled(jobId))
      .finally(() => {
        if (this.#teardowns.get(jobId) === p) this.#teardowns.delete(jobId)
      })
    this.#teardowns.set(jobId, p)
  }

  /** Resolves once the job's last container is torn down. */
  teardownDone(jobId: string): Promise<void> {
    return this.#teardowns.get(jobId) ?? Promise.resolve()
  }

  /** --rm: a settled job's writable layer goes (after its container). */
  removeLayerOnSettle(jobId: string): void {
    if (this.#teardowns.has(jobId)) return // #dropLayerIfSettled runs after the teardown
    void this.#dropLayerIfSettled(jobId)
  }

  async #dropLayerIfSettled(jobId: string): Promise<void> {
    const job = this.d.writer.repo.get(jobId)
    if (!job?.spec.autoRemove || !isFinal(job.state) || this.live.has(jobId)) return
    await this.d.runtime.removeLayer?.(jobId).catch((err) => this.d.log.warn({ err, job: jobId }, 'writable layer removal failed'))
  }

  /** Stop acting: containers keep running (their monitors outlive us); timers
   *  are dropped and re-armed from the database by the next daemon. */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true
    for (const t of this.#backoff.values()) t.cancel()
    this.#backoff.clear()
    for (const l of this.live.values()) {
      l.health?.stop()
      l.stopTimer?.cancel()
      // not yet started: cancelled (a created container waiting for its time is torn down; the next daemon retries the job)
      if (l.startedAtMs === undefined && (!l.container || l.awaitingStart)) l.abort.abort()
    }
    await Promise.race([Promise.allSettled([...this.#teardowns.values()]), new Promise((r) => setTimeout(r, 5000).unref())])
  }
}

/** The job's healthcheck: its fields over the image's over docker's defaults;
 *  none without a test from either; 'none' disables both. */
export function healthConfigOf(spec: RunSpec, image: Parameters<typeof fromImageHealthcheck>[0]): HealthConfig | undefined {
  if (spec.healthcheck === 'none') return undefined
  const base = fromImageHealthcheck(image)
  const own = spec.healthcheck ?? {}
  const test = own.test ?? base?.test
  if (!test) return undefined
  const defined = Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)) as Partial<HealthConfig>
  return { ...HEALTH_DEFAULTS, ...base, ...defined, test }
}
