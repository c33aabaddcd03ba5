import type { CronSpec } from './cron-spec.js'
import { firstTransition, offsetAt } from './tz.js'

// When a cron spec fires, as instants, in a zone with daylight saving time.
//
// THE DST RULE
//  1. A fixed-time spec (its hour field is restricted: "30 2 * * *", "@daily",
//     "0 */6 * * *") names local wall-clock times.
//     - A time in the skipped hour (spring forward) runs ONCE, at the first
//       instant after the jump (02:30 Europe/Berlin on 2026-03-29 → 03:00 CEST).
//       Several skipped times collapse into that one instant.
//     - A time in the repeated hour (fall back) runs ONCE, at its first
//       occurrence (02:30 Europe/Berlin on 2026-10-25 → 02:30 CEST, not CET).
//  2. An interval spec (hour field "*": "*\/15 * * * *", "@hourly", every
//     second) follows elapsed time: nothing is made up for the skipped hour (it
//     never existed), and the repeated hour runs again (it happened twice).
//
// Why not the cron package's own DST handling (4.4.0)? Checked by hand and in
// test/unit/scheduler/cron-package.test.ts: it gets Europe/Berlin and
// America/New_York right, but on Australia/Lord_Howe's 30-minute shift a
// "15 2 * * *" fires at 01:45 and 02:45 on the spring-forward day, and
// "*\/15 * * * *" on the fall-back day returns an EARLIER instant than it was
// asked from, so a scheduler following it loops. So the package only matches
// fields in UTC (no DST there) and this file maps wall times to instants.

/** The largest offset change of any zone (Antarctica/Troll: 2 h), with margin. */
const MAX_SHIFT_MS = 3 * 3_600_000

/** The first fire instant strictly after `from` (ms). */
export function nextTick(spec: CronSpec, tz: string, from: number): number {
  let segStart = from // the current stretch of constant offset starts here…
  let exclusive = true // …exclusive for the first stretch (strictly after `from`)
  let o = offsetAt(tz, from)
  // Fixed-time specs: wall times below `floor` were served before a fall-back
  // (their first occurrence) and must not fire again in the repeated hour.
  let floor = -Infinity
  if (!spec.interval) {
    const back = firstTransition(tz, from - MAX_SHIFT_MS, from)
    if (back && back.after < back.before) floor = back.at + back.before
  }
  for (let guard = 0; guard < 64; guard++) {
    const base = segStart + o
    const w = floor > base ? spec.nextWall(floor - 1) : exclusive ? spec.nextWall(base) : spec.nextWall(base - 1)
    const cand = w - o
    const tr = firstTransition(tz, segStart, cand)
    if (!tr) return cand
    // The offset changes at tr.at, before that wall time is reached in this stretch.
    if (tr.after > tr.before) {
      // Spring forward: walls [at+before, at+after) do not exist today.
      if (!spec.interval) {
        const g = spec.nextWall(Math.max(tr.at + tr.before, floor) - 1)
        if (g < tr.at + tr.after) return tr.at
      }
    } else if (!spec.interval) {
      // Fall back: walls [at+after, at+before) come round again; fixed times ran the first time.
      floor = Math.max(floor, tr.at + tr.before)
    }
    segStart = tr.at
    exclusive = false
    o = tr.after
  }
  throw new Error(`nextTick: no fire time found for ${spec.source} in ${tz} after ${new Date(from).toISOString()}`)
}

/** The next `n` fire instants strictly after `from`. */
export function nextTicks(spec: CronSpec, tz: string, from: Date | number, n: number): Date[] {
  const out: Date[] = []
  let t = typeof from === 'number' ? from : from.getTime()
  for (let i = 0; i < n; i++) {
    t = nextTick(spec, tz, t)
    out.push(new Date(t))
  }
  return out
}
