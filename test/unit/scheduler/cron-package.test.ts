import { CronTime } from 'cron'
import { describe, expect, it } from 'vitest'
import { parseCron } from '../../../src/scheduler/cron-spec.js'
import { nextTick } from '../../../src/scheduler/cron.js'

// What the `cron` package (4.4.0, see package-lock.json) does, checked rather
// than assumed: skiff parses with it, and searches and maps DST itself
// (src/scheduler/cron-spec.ts, cron.ts). If a case below starts failing after an
// upgrade, the package changed its behaviour: re-read cron.ts's rationale.
const pkgNext = (expr: string, tz: string, from: number) => new CronTime(expr, tz).getNextDateFrom(new Date(from), tz).toMillis()

describe('the cron package', () => {
  it('and skiff find the same next time in UTC (no DST) for every kind of field', () => {
    const specs = ['* * * * * *', '*/7 * * * *', '0 9 * * 1-5', '30 2 * * *', '0 0 1 * *', '0 0 29 2 *', '15,45 */3 * * *', '0 0 13 * 5', '0 12 * * SUN', '5 4 * JAN,JUL *', '*/10 */2 1-7 * *', '@weekly']
    let checked = 0
    for (const expr of specs) {
      const mine = parseCron(expr)
      let t = Date.UTC(2026, 0, 1, 0, 0, 0, 250)
      // the package searches at most 8 years past the REAL now: stay well inside that
      for (let k = 0; k < 25 && t < Date.UTC(2032, 0, 1); k++) {
        const want = pkgNext(mine.expanded, 'UTC', t)
        expect(nextTick(mine, 'UTC', t), `${expr} after ${new Date(t).toISOString()}`).toBe(want)
        checked++
        t = want + (k % 3) * 17_000
      }
    }
    expect(checked).toBeGreaterThan((specs.length - 1) * 25)
  })

  it('agrees with skiff\'s DST rule in Europe/Berlin and America/New_York', () => {
    const cases: [string, string, string][] = [
      ['0 30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z'],
      ['0 30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z'],
      ['0 30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z'],
      ['0 30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z'],
    ]
    for (const [expr, tz, from] of cases) {
      let a = Date.parse(from), b = a
      for (let k = 0; k < 3; k++) {
        a = pkgNext(expr, tz, a)
        b = nextTick(parseCron(expr), tz, b)
        expect(a).toBe(b)
      }
    }
  })

  it('gets Australia/Lord_Howe\'s 30-minute shift wrong (why cron.ts maps DST itself)', () => {
    // "15 2 * * *" on 2026-10-04 (02:00 → 02:30): the package fires at 01:45 and
    // again at 02:45; the rule says once, at 02:30 LHDT (15:30Z).
    const from = Date.parse('2026-10-03T12:00:00Z')
    const pkg = [pkgNext('0 15 2 * * *', 'Australia/Lord_Howe', from)]
    pkg.push(pkgNext('0 15 2 * * *', 'Australia/Lord_Howe', pkg[0]!))
    expect(pkg.map((t) => new Date(t).toISOString())).toEqual(['2026-10-03T15:15:00.000Z', '2026-10-03T15:45:00.000Z'])
    expect(new Date(nextTick(parseCron('15 2 * * *'), 'Australia/Lord_Howe', from)).toISOString()).toBe('2026-10-03T15:30:00.000Z')
    // "*/15" at the fall-back (02:00 → 01:30): the package answers an instant
    // BEFORE the one it was asked from, so a scheduler following it loops.
    const at = Date.parse('2026-04-04T14:45:00Z')
    expect(pkgNext('0 */15 * * * *', 'Australia/Lord_Howe', Date.parse('2026-04-04T15:00:00Z'))).toBe(at)
    expect(nextTick(parseCron('*/15 * * * *'), 'Australia/Lord_Howe', Date.parse('2026-04-04T15:00:00Z'))).toBe(Date.parse('2026-04-04T15:15:00Z'))
  })
})
