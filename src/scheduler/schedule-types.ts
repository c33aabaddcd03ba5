import type { CatchUp, Concurrency } from './due-ticks.js'
import type { Job, RunSpec } from './types.js'

/** How a schedule fires, in skiff units (ms). */
export interface ScheduleSpec {
  cron: string
  timezone: string
  concurrency: Concurrency
  /** A tick may start at most this late; null: any lateness (Kubernetes' default). */
  startingDeadlineMs: number | null
  catchUp: CatchUp
  maxCatchUp: number
  /** Finished runs kept: the newest `success` that exited 0 and `failed` others. */
  history: { success: number; failed: number }
  jitterMs: number
}

export interface Schedule extends ScheduleSpec {
  id: string
  name: string
  /** The run every tick starts (env, labels and name are added per run). */
  job: RunSpec
  /** The job as the user sent it, shown back unchanged. */
  jobRequest: unknown
  suspended: boolean
  /** The newest tick handled: ticks at or before it never fire again. */
  cursor: Date
  missedTotal: number
  createdAt: Date
  updatedAt: Date
}

export const SCHEDULE_DEFAULTS: Omit<ScheduleSpec, 'cron'> = {
  timezone: 'UTC',
  concurrency: 'allow',
  startingDeadlineMs: null,
  catchUp: 'once',
  maxCatchUp: 3,
  history: { success: 3, failed: 1 },
  jitterMs: 0,
}

export type ScheduleInput = Partial<ScheduleSpec> & { name: string; cron: string; job: RunSpec; jobRequest: unknown; suspend?: boolean }
export type SchedulePatch = Partial<ScheduleSpec> & { job?: RunSpec; jobRequest?: unknown; suspend?: boolean }

export type TickTrigger = 'schedule' | 'catch-up' | 'manual'
export type TickOutcome = 'run' | 'missed' | 'skipped'

export interface TickRecord {
  scheduledTime: Date
  trigger: TickTrigger
  outcome: TickOutcome
  reason: string | null
  jobId: string | null
  recordedAt: Date
}

export interface ScheduleRun {
  job: Job
  trigger: TickTrigger
  scheduledTime: Date
}

/** What schedules need from the job scheduler: narrow on purpose, so the
 *  JobService can be restructured behind it (daemon.ts wires the real one). */
export interface SchedulerPort {
  /** Synchronous; `also` runs inside the transaction that inserts the job. */
  submit(spec: RunSpec, opts: { id: string; also: (job: Job) => void }): Job
  get(id: string): Job | undefined
  /** SIGTERM, then SIGKILL after timeoutMs. */
  stop(id: string, opts: { timeoutMs: number }): Promise<unknown>
  /** Remove a finished job and its logs (force: kill it first). */
  remove(id: string, opts?: { force?: boolean }): Promise<void>
}

/** Named points of the fire path where a test can crash the daemon
 *  (SKIFF_TEST_CRASH_AT, see daemon.ts); a no-op otherwise. */
export type CrashPoint = 'fire:before-tx' | 'fire:in-tx' | 'fire:after-tx' | 'miss:before-tx'
