import { invalidArgument } from '../lib/errors.js'

/** docker's restart policies. `maxRetries` only for on-failure (absent: no cap). */
export type RestartPolicy =
  | { mode: 'no' }
  | { mode: 'on-failure'; maxRetries?: number }
  | { mode: 'always' }
  | { mode: 'unless-stopped' }

/** Delay between attempts. docker's fixed numbers (moby restartmanager: 100 ms,
 *  doubling, capped at 1 min, reset after 10 s of running) are the defaults;
 *  every one is settable per job (moby#41856, #15623 asked for years). */
export interface Backoff {
  initialMs: number
  maxMs: number
  factor: number
  /** ± this fraction of the delay, drawn at random (0 = none) */
  jitter: number
  /** an attempt that ran at least this long resets the delay to `initialMs` */
  resetAfterMs: number
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 60_000, factor: 2, jitter: 0, resetAfterMs: 10_000 }

/** "no" | "on-failure[:N]" | "always" | "unless-stopped" */
export function parseRestartPolicy(s: string, field = 'restart'): RestartPolicy {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(s)
  if (!m) throw invalidArgument(field, `invalid restart policy ${JSON.stringify(s)} (use no, on-failure[:max-retries], always or unless-stopped)`)
  const mode = m[1] as RestartPolicy['mode']
  if (m[2] !== undefined) {
    if (mode !== 'on-failure') throw invalidArgument(field, `only on-failure takes a retry count, got ${JSON.stringify(s)}`)
    const n = Number(m[2])
    if (!Number.isSafeInteger(n) || n < 0 || n > 1_000_000) throw invalidArgument(field, `retry count must be 0..1000000, got ${m[2]}`)
    // docker: on-failure:0 means "no cap"
    return n === 0 ? { mode } : { mode, maxRetries: n }
  }
  return { mode } as RestartPolicy
}

export function formatRestartPolicy(p: RestartPolicy): string {
  return p.mode === 'on-failure' && p.maxRetries !== undefined ? `on-failure:${p.maxRetries}` : p.mode
}

/** What the restart budget has used so far (persisted on the job row). */
export interface RestartHistory {
  /** restarts caused by the workload's own exits: what on-failure's max counts */
  failures: number
  /** consecutive short attempts: the exponent of the next delay */
  backoffStep: number
}

/** How an attempt ended, from the scheduler's point of view. */
export interface AttemptEnding {
  /** workload: the job's process ended on its own (or by a signal it was not
   *  asked to stop with); platform: skiff or the host failed it (pull error,
   *  create failure, container lost while the daemon was down); user: stop or
   *  kill; unhealthy: its healthcheck's on_unhealthy=restart ended it */
  cause: 'workload' | 'platform' | 'user' | 'unhealthy'
  /** exit 0, not OOM-killed, not timed out, not killed by a signal */
  success: boolean
  ranForMs: number
}

export type RestartDecision =
  | { restart: false; reason: 'policy' | 'max-retries' | 'stopped-by-user' }
  | { restart: true; delayMs: number; counts: boolean; next: RestartHistory }

/** The next delay: initial × factor^step capped at max, ± jitter. `random` ∈ [0, 1). */
export function backoffDelay(b: Backoff, step: number, random: number): number {
  const base = Math.min(b.initialMs * b.factor ** step, b.maxMs)
  const jittered = base * (1 + b.jitter * (2 * random - 1))
  return Math.max(0, Math.round(Math.min(jittered, b.maxMs)))
}

/**
 * Pure: does this attempt's end lead to another attempt, and after how long?
 * - A user's stop or kill never restarts (docker: "manually stopped").
 * - A platform failure restarts under any policy but "no" and never consumes the
 *   budget: the workload did not fail, skiff did.
 * - on-failure restarts unsuccessful ends while `failures < maxRetries`;
 *   always / unless-stopped restart every end.
 * - An unhealthy restart (on_unhealthy: restart) always restarts, uncounted.
 * The delay resets when the attempt ran for at least `resetAfterMs`.
 */
export function decideRestart(p: RestartPolicy, b: Backoff, h: RestartHistory, end: AttemptEnding, random = 0.5): RestartDecision {
  if (end.cause === 'user') return { restart: false, reason: 'stopped-by-user' }
  let counts = false
  if (end.cause === 'workload') {
    if (p.mode === 'no') return { restart: false, reason: 'policy' }
    if (p.mode === 'on-failure') {
      if (end.success) return { restart: false, reason: 'policy' }
      if (p.maxRetries !== undefined && h.failures >= p.maxRetries) return { restart: false, reason: 'max-retries' }
    }
    counts = true
  } else if (end.cause === 'platform' && p.mode === 'no') return { restart: false, reason: 'policy' }
  const step = end.ranForMs >= b.resetAfterMs ? 0 : h.backoffStep
  return {
    restart: true,
    delayMs: backoffDelay(b, step, random),
    counts,
    next: { failures: h.failures + (counts ? 1 : 0), backoffStep: step + 1 },
  }
}

/** Does a settled job come back when the daemon starts? docker: `always` does even
 *  after a manual stop; `unless-stopped` unless the user stopped it. */
export function startsOnBoot(p: RestartPolicy, stoppedByUser: boolean): boolean {
  return p.mode === 'always' || (p.mode === 'unless-stopped' && !stoppedByUser)
}
