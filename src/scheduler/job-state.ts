import { SkiffError } from '../lib/errors.js'

/**
 * A job is a sequence of attempts. Its state is that of the current attempt
 * (pulling → starting → running), or where the job stands between attempts:
 * `queued` (waiting for a slot), `backoff` (waiting out a restart delay), or
 * settled — `stopped` by the user, or ended as its last attempt did and not
 * restarted. A settled job moves again only when a user starts it.
 */
export const JOB_STATES = ['queued', 'pulling', 'starting', 'running', 'backoff', 'stopped', 'exited', 'failed', 'killed', 'oom', 'timed_out'] as const
export type JobState = (typeof JOB_STATES)[number]

/** The states an attempt passes through, and how one ends. */
export const ATTEMPT_STATES = ['pulling', 'starting', 'running', 'stopped', 'exited', 'failed', 'killed', 'oom', 'timed_out'] as const
export type AttemptState = (typeof ATTEMPT_STATES)[number]

/** The outcome states a settled job (and an ended attempt) can have. */
type Outcome = 'stopped' | 'exited' | 'failed' | 'killed' | 'oom' | 'timed_out'
const OUTCOMES = ['stopped', 'exited', 'failed', 'killed', 'oom', 'timed_out'] as const satisfies readonly Outcome[]

/** Every legal transition.
 *  - pulling/starting → queued: the daemon died mid-attempt before the workload ran;
 *    the attempt is retried without counting against the job.
 *  - → backoff: the attempt ended and the restart policy wants another one.
 *  - settled → queued: a user's start (or restart, or a boot under `always`). */
export const TRANSITIONS = {
  queued: ['pulling', 'killed', 'failed', 'stopped'],
  pulling: ['starting', 'queued', 'backoff', ...OUTCOMES],
  starting: ['running', 'queued', 'backoff', ...OUTCOMES],
  running: ['backoff', ...OUTCOMES],
  backoff: ['queued', 'stopped', 'killed'],
  stopped: ['queued'],
  exited: ['queued'],
  failed: ['queued'],
  killed: ['queued'],
  oom: ['queued'],
  timed_out: ['queued'],
} as const satisfies Record<JobState, readonly JobState[]>

/** Settled: nothing happens to the job until a user acts (wait() resolves here). */
export const FINAL_STATES: ReadonlySet<JobState> = new Set<JobState>(OUTCOMES)
/** States that hold a slot (admission counts them). */
export const ACTIVE_STATES: ReadonlySet<JobState> = new Set<JobState>(['pulling', 'starting', 'running'])

export const isFinal = (s: JobState): boolean => FINAL_STATES.has(s)

export function canTransition(from: JobState, to: JobState): boolean {
  return (TRANSITIONS[from] as readonly JobState[]).includes(to)
}

export function assertTransition(id: string, from: JobState, to: JobState): void {
  if (!canTransition(from, to))
    throw new SkiffError('conflict', 'INVALID_TRANSITION', `job ${id}: cannot go from ${from} to ${to}`, { detail: { from, to } })
}

/** How a container's exit maps to an outcome. Limits the job hit win over the
 *  user's signal (the kill may have raced the limit); a user's stop beats a
 *  plain kill. */
export function finalStateFor(exit: { oomKilled: boolean; timedOut: boolean }, by: { killedByUser?: boolean; stoppedByUser?: boolean } | boolean = {}): Outcome {
  const b = typeof by === 'boolean' ? { killedByUser: by } : by
  if (exit.timedOut) return 'timed_out'
  if (exit.oomKilled) return 'oom'
  if (b.stoppedByUser) return 'stopped'
  if (b.killedByUser) return 'killed'
  return 'exited'
}
