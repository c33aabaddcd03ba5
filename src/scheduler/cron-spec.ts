import { CronTime } from 'cron'
import { SkiffError } from '../lib/errors.js'

/** A parsed cron expression. Parsing (ranges, steps, names, macros, range
 *  checks) is the `cron` package's `CronTime`; the search for the next matching
 *  wall-clock time is ours (`nextWall`, plain UTC date arithmetic), and so is
 *  the mapping of wall-clock times to instants (cron.ts). Why: the package's
 *  getNextDateFrom walks one second or minute at a time through luxon (≈2.5 ms
 *  per hourly tick here, 20 s for a year of them) and maps Lord Howe's
 *  30-minute shift wrongly (see cron.ts). test/unit/scheduler/cron-package.test.ts
 *  checks that both searches agree in UTC, where the package has no DST logic. */
export interface CronSpec {
  readonly source: string
  /** The expression with macros expanded, 6 fields (seconds first). */
  readonly expanded: string
  /** Hour field unrestricted (`*`, `*\/1`, `0-23`): an interval spec, which
   *  follows elapsed time across DST changes; otherwise a fixed-time spec. */
  readonly interval: boolean
  /** Next wall-clock match strictly after `wall` (both wall times encoded as UTC ms). */
  nextWall(wall: number): number
}

export const invalidCron = (expr: string, why: string) =>
  new SkiffError('invalid_argument', 'INVALID_CRON', `cron: ${JSON.stringify(expr)}: ${why}`, { field: 'cron' })

// The cron package's presets, plus Kubernetes'/robfig's two aliases it lacks.
const MACROS: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *', '@annually': '0 0 0 1 1 *', '@monthly': '0 0 0 1 * *', '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *', '@midnight': '0 0 0 * * *', '@hourly': '0 0 * * * *', '@minutely': '0 * * * * *',
  '@secondly': '* * * * * *', '@weekdays': '0 0 0 * * 1-5', '@weekends': '0 0 0 * * 0,6',
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] // February 29 exists in leap years

/** Parse and validate: 5 fields (minute first), 6 fields (seconds first) or a
 *  macro. Throws INVALID_CRON with the reason, or CRON_NEVER_FIRES for a spec
 *  like "0 0 30 2 *" that names no date that exists. */
export function parseCron(expr: string): CronSpec {
  if (typeof expr !== 'string' || expr.trim() === '') throw invalidCron(String(expr), 'is empty')
  const src = expr.trim()
  let expanded: string
  if (src.startsWith('@')) {
    const m = MACROS[src.toLowerCase()]
    if (!m) throw invalidCron(src, `unknown macro (one of ${Object.keys(MACROS).join(', ')}${src.toLowerCase() === '@reboot' ? '; for a job that starts with the daemon use a restart policy' : ''})`)
    expanded = m
  } else {
    const n = src.split(/\s+/).length
    if (n !== 5 && n !== 6) throw invalidCron(src, `has ${n} field${n === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first)`)
    expanded = n === 5 ? `0 ${src}` : src
  }
  let time: CronTime
  try {
    time = new CronTime(expanded, 'UTC')
  } catch (e) {
    throw invalidCron(src, String((e as Error).message ?? e).toLowerCase())
  }
  const fields = time.toJSON() as [string, string, string, string, string, string]
  const [, , hour, dom, month, dow] = fields
  if (neverFires(dom, month, dow)) throw new SkiffError('invalid_argument', 'CRON_NEVER_FIRES', `cron: ${JSON.stringify(src)} never fires: no month it names has any of its days`, { field: 'cron' })
  const m = matcher(fields)
  return { source: src, expanded: fields.join(' '), interval: hour === '*', nextWall: (wall) => m(wall) }
}

const LIMITS = [[0, 59], [0, 59], [0, 23], [1, 31], [1, 12], [0, 6]] as const
/** Searches at most this far (the package's own limit is 8 years; Feb 29 needs up to 8, 2096 → 2104). */
const MAX_YEARS = 9

/** CronTime.toJSON() fields ('*' or 'a,b,c') → the next matching wall time
 *  strictly after a given one, jumping field by field. */
function matcher(fields: readonly string[]): (wall: number) => number {
  const sets = fields.map((f, k) => {
    const [lo, hi] = LIMITS[k]!
    const v = f === '*' ? Array.from({ length: hi - lo + 1 }, (_, j) => lo + j) : f.split(',').map(Number).sort((a, b) => a - b)
    return { all: f === '*', list: v, has: new Set(v) }
  }) as { all: boolean; list: number[]; has: Set<number> }[]
  const [sec, min, hr, dom, mon, dow] = sets as [typeof sets[0], typeof sets[0], typeof sets[0], typeof sets[0], typeof sets[0], typeof sets[0]]
  // Vixie cron: with both day fields restricted, either may match.
  const dayOk = (d: Date) => {
    const a = dom.has.has(d.getUTCDate()), b = dow.has.has(d.getUTCDay())
    return dom.all || dow.all ? a && b : a || b
  }
  const nextIn = (s: typeof sec, v: number) => s.list.find((x) => x >= v)
  return (wall) => {
    const d = new Date(Math.floor(wall / 1000) * 1000 + 1000)
    const stop = d.getUTCFullYear() + MAX_YEARS
    while (d.getUTCFullYear() < stop) {
      if (!mon.has.has(d.getUTCMonth() + 1)) {
        d.setUTCMonth(d.getUTCMonth() + 1, 1)
        d.setUTCHours(0, 0, 0, 0)
        continue
      }
      if (!dayOk(d)) {
        d.setUTCDate(d.getUTCDate() + 1)
        d.setUTCHours(0, 0, 0, 0)
        continue
      }
      const h = nextIn(hr, d.getUTCHours())
      if (h === undefined) {
        d.setUTCDate(d.getUTCDate() + 1)
        d.setUTCHours(0, 0, 0, 0)
        continue
      }
      if (h !== d.getUTCHours()) {
        d.setUTCHours(h, 0, 0, 0)
        continue
      }
      const mi = nextIn(min, d.getUTCMinutes())
      if (mi === undefined) {
        d.setUTCHours(h + 1, 0, 0, 0)
        continue
      }
      if (mi !== d.getUTCMinutes()) {
        d.setUTCMinutes(mi, 0, 0)
        continue
      }
      const s = nextIn(sec, d.getUTCSeconds())
      if (s === undefined) {
        d.setUTCMinutes(mi + 1, 0, 0)
        continue
      }
      d.setUTCSeconds(s, 0)
      return d.getTime()
    }
    throw new SkiffError('invalid_argument', 'CRON_NEVER_FIRES', `cron: ${fields.join(' ')} does not fire within ${MAX_YEARS} years`, { field: 'cron' })
  }
}

/** Day-of-month and day-of-week are OR-ed when both are restricted (Vixie
 *  cron, and the cron package): then some weekday always comes. Only a
 *  restricted day-of-month with every weekday allowed can name nothing. */
function neverFires(dom: string, month: string, dow: string): boolean {
  if (dom === '*' || dow !== '*') return false
  const days = dom.split(',').map(Number)
  const months = month === '*' ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] : month.split(',').map(Number)
  return !months.some((m) => days.some((d) => d <= DAYS_IN_MONTH[m - 1]!))
}
