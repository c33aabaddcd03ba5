import { SkiffError } from '../lib/errors.js'

// UTC offsets of IANA zones from the platform's own tz database (ICU, through
// Intl): no library needed for "what is the offset at instant t". What Intl
// does not offer is the list of transitions, so `firstTransition` finds them by
// probing and bisecting. Both are pure functions of (zone, instant).

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
    })
    formatters.set(tz, f)
  }
  return f
}

export const invalidTimeZone = (tz: string, why: string) =>
  new SkiffError('invalid_argument', 'INVALID_TIMEZONE', `timezone: ${JSON.stringify(tz)} ${why}`, { field: 'timezone' })

/** Throws INVALID_TIMEZONE unless `tz` is an IANA zone name this host knows. */
export function checkTimeZone(tz: string): string {
  if (typeof tz !== 'string' || tz.trim() === '') throw invalidTimeZone(String(tz), 'is empty')
  try {
    formatter(tz)
  } catch {
    throw invalidTimeZone(tz, 'is not an IANA time zone (use a name like Europe/Berlin, America/New_York or UTC)')
  }
  return tz
}

/** Offset of local time from UTC at instant `t` (ms; positive east of Greenwich). */
export function offsetAt(tz: string, t: number): number {
  const parts = formatter(tz).formatToParts(t)
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, bc = false
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = Number(p.value); break
      case 'month': mo = Number(p.value); break
      case 'day': d = Number(p.value); break
      case 'hour': h = Number(p.value); break
      case 'minute': mi = Number(p.value); break
      case 'second': s = Number(p.value); break
      case 'era': bc = p.value === 'BC'; break
    }
  }
  const wall = Date.UTC(bc ? 1 - y : y, mo - 1, d, h, mi, s)
  return wall - (t - mod(t, 1000))
}

const mod = (a: number, b: number) => ((a % b) + b) % b

/** Local wall-clock time at `t`, encoded as if it were a UTC instant. */
export const wallAt = (tz: string, t: number): number => t + offsetAt(tz, t)

/** Probe spacing. Offsets change at most a few times a year; no zone in the tz
 *  database has two changes less than two days apart, so a pair cannot hide
 *  between two probes. */
const PROBE_MS = 2 * 86_400_000

/** The first instant in (a, b] whose offset differs from `offsetAt(tz, a)`,
 *  with the offsets either side; undefined when the offset holds over (a, b]. */
export function firstTransition(tz: string, a: number, b: number): { at: number; before: number; after: number } | undefined {
  const before = offsetAt(tz, a)
  let lo = a
  for (;;) {
    const hi = Math.min(lo + PROBE_MS, b)
    const off = offsetAt(tz, hi)
    if (off !== before) return { at: bisect(tz, lo, hi, before), before, after: off }
    if (hi >= b) return undefined
    lo = hi
  }
}

/** offset(lo) = o, offset(hi) ≠ o: the exact instant (ms) the offset changes. */
function bisect(tz: string, lo: number, hi: number, o: number): number {
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetAt(tz, mid) === o) lo = mid
    else hi = mid
  }
  return hi
}
