import { SkiffError } from '../lib/errors.js'

export const JOB_STATES = ['queued', 'pulling', 'starting', 'running', 'exited', 'failed', 'killed', 'oom', 'timed_out'] as const
export type JobState = (typeof JOB_STATES)[number]

/** Every legal transition. A final state has none. */
export const TRANSITIONS = {
  queued: ['pulling', 'killed', 'failed'],
  pulling: ['starting', 'failed', 'killed'],
  starting: ['running', 'failed', 'killed', 'exited', 'oom', 'timed_out'],
  running: ['exited', 'failed', 'killed', 'oom', 'timed_out'],
  exited: [],
  failed: [],
  killed: [],
  oom: [],
  timed_out: [],
} as const satisfies Record<JobState, readonly JobState[]>

export const FINAL_STATES: ReadonlySet<JobState> = new Set(JOB_STATES.filter((s) => TRANSITIONS[s].length === 0))
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

/** How a container's exit maps to a final state; user kills win over everything but OOM. */
export function finalStateFor(exit: { oomKilled: boolean; timedOut: boolean }, killedByUser: boolean): JobState {
  if (exit.timedOut) return 'timed_out'
  if (exit.oomKilled) return 'oom'
  if (killedByUser) return 'killed'
  return 'exited'
}
