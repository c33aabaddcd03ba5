import { createHash } from 'node:crypto'

export type CatchUp = 'skip' | 'once' | 'all'
export type Concurrency = 'allow' | 'forbid' | 'replace'
export type MissReason = 'deadline' | 'catch-up' | 'max-catch-up'

export interface DueInput {
  /** The last tick already handled (fired, missed or skipped); ticks ≤ cursor never come back. */
  cursor: number
  now: number
  /** Since when this daemon has been watching the schedule (process start, create, resume). */
  armedAt: number
  /** A tick may start at most this late (after its jittered fire time); null: any lateness. */
  startingDeadlineMs: number | null
  catchUp: CatchUp
  maxCatchUp: number
  /** The schedule: the first tick strictly after t (cron.ts nextTick), undefined if none. */
  next: (t: number) => number | undefined
  /** Extra delay of each tick's start (jitterMs below); 0 without jitter. */
  jitter: (t: number) => number
  /** Bound on the ticks looked at in one call (a week-long outage of an every-second schedule). */
  maxScan?: number
  /** A tick may be decided this long before its fire time, so its run is
   *  prepared (image, rootfs, container created) and only started at the time;
   *  0: decided at its time. */
  leadMs?: number
}

export interface DueResult {
  /** Ticks to start now, oldest first. `catchUp`: it came while nobody watched. */
  fire: { at: number; catchUp: boolean }[]
  /** Ticks that will never run, oldest first. */
  missed: { at: number; reason: MissReason }[]
  /** Due ticks beyond maxScan, oldest ones: missed, not listed; `count` is approximate. */
  uncounted: { from: number; to: number; count: number } | null
  /** The new cursor: the newest tick handled by this decision. */
  cursor: number
  /** When the next tick is due (its jittered fire time less leadMs), undefined if the spec never fires again. */
  wakeAt: number | undefined
}

const DEFAULT_MAX_SCAN = 2_000

/** Pure: what to do with the ticks due at `now`.
 *
 *  A tick is due when its fire time (tick + jitter) has come — or is less than
 *  leadMs away while nothing else is due: that one is decided early, so that its
 *  run can be prepared and start on time. Due ticks are taken in order, so a
 *  tick never overtakes an earlier one. Then:
 *  - a due tick more than startingDeadline late is missed ('deadline');
 *  - the newest due tick, if it came while this daemon was watching, is the
 *    current tick: it fires;
 *  - every other due tick was missed by nobody firing it at its time (daemon
 *    down, or crashed before committing it; event loop stalled; wall clock
 *    stepped forward) and `catchUp` decides:
 *      skip → all missed ('catch-up');
 *      once → the newest one fires, unless a current tick fires anyway; the rest missed;
 *      all  → the oldest maxCatchUp fire (oldest first), the rest missed ('max-catch-up').
 */
export function dueTicks(i: DueInput): DueResult {
  const maxScan = i.maxScan ?? DEFAULT_MAX_SCAN
  const due: number[] = []
  let skipped = 0 // due ticks dropped from the list, the oldest ones
  let skipFrom = 0
  let skipTo = 0
  const lead = Math.max(0, i.leadMs ?? 0)
  let t = i.next(i.cursor)
  // A tick is taken early only when nothing is due yet: one at a time, never in
  // front of a tick that is already late (that one fires first, as the current tick).
  while (t !== undefined && t + i.jitter(t) <= i.now + (due.length === 0 ? lead : 0)) {
    if (due.length === maxScan) {
      // Far too many due ticks (a long outage of a frequent schedule): jump to a
      // window of maxScan/2 ticks before now and count the rest approximately.
      // They could never all run anyway: maxCatchUp is far below maxScan.
      if (skipped === 0) skipFrom = due[0]!
      const period = (due[due.length - 1]! - due[0]!) / (due.length - 1)
      const to = i.now - period * (maxScan / 2)
      if (to > t) {
        skipped += Math.max(due.length, Math.floor((to - due[0]!) / period) + 1)
        skipTo = to
        due.length = 0
        t = i.next(to)
        continue
      }
      const old = due.splice(0, Math.floor(maxScan / 2))
      skipped += old.length
      skipTo = old[old.length - 1]!
    }
    due.push(t)
    t = i.next(t)
  }
  const uncounted = skipped ? { from: skipFrom, to: skipTo, count: skipped } : null
  const wakeAt = t === undefined ? undefined : t + i.jitter(t) - lead
  const fire: DueResult['fire'] = []
  const missed: DueResult['missed'] = []
  if (due.length === 0) return { fire, missed, uncounted, cursor: uncounted?.to ?? i.cursor, wakeAt }

  const late = (x: number) => i.startingDeadlineMs !== null && i.now - (x + i.jitter(x)) > i.startingDeadlineMs
  const newest = due[due.length - 1]!
  const current = !late(newest) && newest + i.jitter(newest) >= i.armedAt ? newest : undefined
  const rest = due.filter((x) => x !== current)
  const eligible = rest.filter((x) => !late(x))
  let catchUp: number[] = []
  if (i.catchUp === 'once' && current === undefined && eligible.length) catchUp = [eligible[eligible.length - 1]!]
  if (i.catchUp === 'all') catchUp = eligible.slice(0, i.maxCatchUp)
  const runs = new Set(catchUp)
  for (const x of rest) {
    if (runs.has(x)) fire.push({ at: x, catchUp: true })
    else missed.push({ at: x, reason: late(x) ? 'deadline' : i.catchUp === 'all' ? 'max-catch-up' : 'catch-up' })
  }
  if (current !== undefined) fire.push({ at: current, catchUp: false })
  return { fire, missed, uncounted, cursor: newest, wakeAt }
}

/** Pure: which of a schedule's active runs to stop, and whether to start the new one. */
export function decideConcurrency(policy: Concurrency, active: readonly string[]): { start: boolean; stop: string[] } {
  if (active.length === 0 || policy === 'allow') return { start: true, stop: [] }
  if (policy === 'forbid') return { start: false, stop: [] }
  return { start: true, stop: [...active] }
}

/** A tick's start delay in [0, maxMs): a hash of (schedule, tick), so every
 *  daemon (and a restarted one) computes the same delay for the same tick. */
export function jitterMs(scheduleId: string, tick: number, maxMs: number): number {
  if (maxMs <= 0) return 0
  const h = createHash('sha256').update(`${scheduleId}\0${tick}`).digest()
  return h.readUInt32BE(0) % Math.ceil(maxMs)
}
