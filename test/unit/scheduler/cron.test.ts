import { describe, expect, it } from 'vitest'
import { parseCron } from '../../../src/scheduler/cron-spec.js'
import { nextTick, nextTicks } from '../../../src/scheduler/cron.js'
import { checkTimeZone, firstTransition, offsetAt } from '../../../src/scheduler/tz.js'

const iso = (d: Date | number) => new Date(d).toISOString().replace('.000Z', 'Z')
const ticks = (expr: string, tz: string, from: string, n: number) => nextTicks(parseCron(expr), tz, new Date(from), n).map(iso)

describe('parseCron', () => {
  it.each([
    ['*/5 * * * *', '0 */5 * * * *'],
    ['*/10 * * * * *', '*/10 * * * * *'],
    ['@hourly', '@hourly'],
    ['@annually', '@annually'],
    ['@midnight', '@midnight'],
    ['0 9 * * MON-FRI', '0 9 * * MON-FRI'],
    ['0 0 29 2 *', '0 0 29 2 *'],
    ['0 0 30 2 1', 'Feb 30 OR any Monday of February'],
  ])('accepts %s', (expr) => {
    expect(parseCron(expr).source).toBe(expr)
  })

  it.each([
    ['', 'INVALID_CRON'],
    ['* * * *', 'INVALID_CRON'],
    ['0 0 0 * * * *', 'INVALID_CRON'],
    ['61 * * * *', 'INVALID_CRON'],
    ['*/0 * * * *', 'INVALID_CRON'],
    ['5-1 * * * *', 'INVALID_CRON'],
    ['0 0 * * FOO', 'INVALID_CRON'],
    ['@reboot', 'INVALID_CRON'],
    ['@every 5m', 'INVALID_CRON'],
    ['0 0 30 2 *', 'CRON_NEVER_FIRES'],
    ['0 0 31 2,4,6,9,11 *', 'CRON_NEVER_FIRES'],
    ['0 0 0 31 11 *', 'CRON_NEVER_FIRES'],
  ])('rejects %j with %s naming the field', (expr, code) => {
    expect.assertions(1)
    try {
      parseCron(expr)
    } catch (e) {
      expect(e).toMatchObject({ code, kind: 'invalid_argument', extra: { field: 'cron' } })
    }
  })

  it('classifies specs whose hour field is unrestricted as interval specs', () => {
    expect(['*/15 * * * *', '@hourly', '* * * * * *', '0 0-23 * * *'].map((e) => parseCron(e).interval)).toEqual([true, true, true, true])
    expect(['30 2 * * *', '@daily', '0 */2 * * *', '*/15 2 * * *'].map((e) => parseCron(e).interval)).toEqual([false, false, false, false])
  })

  it('finds Feb 29 in the next leap year', () => {
    expect(ticks('0 0 29 2 *', 'UTC', '2026-03-01T00:00:00Z', 2)).toEqual(['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z'])
  })
})

describe('time zones', () => {
  it.each(['Mars/Olympus', '+01:00', '', 'Local'])('rejects %j with INVALID_TIMEZONE', (tz) => {
    expect(() => checkTimeZone(tz)).toThrow(expect.objectContaining({ code: 'INVALID_TIMEZONE', extra: { field: 'timezone' } }))
  })
  it('knows the 2026 transitions, to the millisecond', () => {
    expect(firstTransition('Europe/Berlin', Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-04-01T00:00:00Z'))).toEqual({ at: Date.parse('2026-03-29T01:00:00Z'), before: 3_600_000, after: 7_200_000 })
    expect(firstTransition('Australia/Lord_Howe', Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-05-01T00:00:00Z'))).toEqual({ at: Date.parse('2026-04-04T15:00:00Z'), before: 39_600_000, after: 37_800_000 })
    expect(firstTransition('Asia/Tokyo', Date.parse('2026-01-01T00:00:00Z'), Date.parse('2027-01-01T00:00:00Z'))).toBeUndefined()
    expect(offsetAt('America/New_York', Date.parse('2026-07-01T12:00:00.123Z'))).toBe(-4 * 3_600_000)
  })
})

// THE DST RULE (src/scheduler/cron.ts): a fixed local time in the skipped hour
// runs once, right after the jump; in the repeated hour once, at its first
// occurrence; interval specs follow elapsed time.
describe('daily 02:30 on the days the clocks change', () => {
  // [zone, from (UTC), expected fire instants (UTC), what happens]
  const table: [string, string, string[], string][] = [
    ['Europe/Berlin', '2026-03-27T12:00:00Z', ['2026-03-28T01:30:00Z', '2026-03-29T01:00:00Z', '2026-03-30T00:30:00Z'], 'spring: 02:30 does not exist → 03:00 CEST, once'],
    ['Europe/Berlin', '2026-10-23T12:00:00Z', ['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z'], 'fall: 02:30 CEST only, not 02:30 CET'],
    ['America/New_York', '2026-03-06T12:00:00Z', ['2026-03-07T07:30:00Z', '2026-03-08T07:00:00Z', '2026-03-09T06:30:00Z'], 'spring: 02:30 does not exist → 03:00 EDT'],
    ['America/New_York', '2026-10-30T12:00:00Z', ['2026-10-31T06:30:00Z', '2026-11-01T07:30:00Z', '2026-11-02T07:30:00Z'], 'fall: 02:30 is after the repeated 01:xx hour: once, EST'],
    ['Australia/Lord_Howe', '2026-10-02T00:00:00Z', ['2026-10-02T16:00:00Z', '2026-10-03T15:30:00Z', '2026-10-04T15:30:00Z'], 'spring: 02:00 → 02:30, so 02:30 is the first instant after the jump'],
    ['Australia/Lord_Howe', '2026-04-03T00:00:00Z', ['2026-04-03T15:30:00Z', '2026-04-04T16:00:00Z', '2026-04-05T16:00:00Z'], 'fall: 02:00 → 01:30; 02:30 comes once'],
    ['Asia/Tokyo', '2026-03-27T00:00:00Z', ['2026-03-27T17:30:00Z', '2026-03-28T17:30:00Z', '2026-03-29T17:30:00Z'], 'no DST: every day the same'],
    ['Asia/Tokyo', '2026-10-23T00:00:00Z', ['2026-10-23T17:30:00Z', '2026-10-24T17:30:00Z', '2026-10-25T17:30:00Z'], 'no DST'],
  ]
  it.each(table)('%s from %s → %j (%s)', (tz, from, want) => {
    expect(ticks('30 2 * * *', tz, from, 3)).toEqual(want)
  })
})

describe('fixed times inside the skipped or repeated part', () => {
  const table: [string, string, string, string[], string][] = [
    ['15 2 * * *', 'Australia/Lord_Howe', '2026-10-02T12:00:00Z', ['2026-10-02T15:45:00Z', '2026-10-03T15:30:00Z', '2026-10-04T15:15:00Z'], '02:15 skipped (02:00→02:30): 02:30 LHDT, once'],
    ['45 1 * * *', 'Australia/Lord_Howe', '2026-04-03T12:00:00Z', ['2026-04-03T14:45:00Z', '2026-04-04T14:45:00Z', '2026-04-05T15:15:00Z'], '01:45 repeated: first occurrence (+11:00) only'],
    ['30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', ['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z'], '01:30 repeated: EDT only'],
    ['*/15 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00Z', '2026-03-30T00:00:00Z', '2026-03-30T00:15:00Z'], 'four skipped times collapse into one run at 03:00'],
    ['0,30 2,3 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', ['2026-03-29T01:00:00Z', '2026-03-29T01:30:00Z', '2026-03-30T00:00:00Z'], '02:00, 02:30 and 03:00 are one instant; 03:30 normal'],
    ['0 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z', ['2026-10-26T01:00:00Z'], 'asked from inside the first 02:xx: the second 02:00 never fires'],
    ['59 2 * * *', 'Europe/Berlin', '2026-10-25T01:10:00Z', ['2026-10-26T01:59:00Z'], 'asked from inside the second pass: 02:59 already ran in the first'],
  ]
  it.each(table)('%s %s from %s → %j (%s)', (expr, tz, from, want) => {
    expect(ticks(expr, tz, from, want.length)).toEqual(want)
  })
})

describe('interval specs follow elapsed time', () => {
  const gaps = (expr: string, tz: string, from: string, n: number) => {
    const t = nextTicks(parseCron(expr), tz, new Date(from), n).map((d) => d.getTime())
    return new Set(t.slice(1).map((x, k) => x - t[k]!))
  }
  it.each([
    ['Europe/Berlin', '2026-03-28T20:00:00Z'],
    ['Europe/Berlin', '2026-10-24T20:00:00Z'],
    ['America/New_York', '2026-03-08T02:00:00Z'],
    ['America/New_York', '2026-11-01T02:00:00Z'],
    ['Australia/Lord_Howe', '2026-10-03T10:00:00Z'],
    ['Australia/Lord_Howe', '2026-04-04T10:00:00Z'],
    ['Asia/Tokyo', '2026-03-28T20:00:00Z'],
  ])('*/15 in %s across the change from %s: every gap is 15 minutes', (tz, from) => {
    expect(gaps('*/15 * * * *', tz, from, 4 * 12)).toEqual(new Set([15 * 60_000]))
  })
  it('every second across Berlin\'s fall-back: 7200 ticks, 1 s apart', () => {
    const t = nextTicks(parseCron('* * * * * *'), 'Europe/Berlin', new Date('2026-10-25T00:00:00Z'), 7200).map((d) => d.getTime())
    expect(new Set(t.slice(1).map((x, k) => x - t[k]!))).toEqual(new Set([1000]))
    expect(iso(t[7199]!)).toBe('2026-10-25T02:00:00Z')
  })
  it('hourly runs both 02:00s of the repeated hour and skips the nonexistent one', () => {
    expect(ticks('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 3)).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T02:00:00Z'])
    expect(ticks('0 * * * *', 'Europe/Berlin', '2026-03-28T23:30:00Z', 3)).toEqual(['2026-03-29T00:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z'])
    expect(ticks('*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:20:00Z', 5)).toEqual(['2026-04-04T14:30:00Z', '2026-04-04T14:45:00Z', '2026-04-04T15:00:00Z', '2026-04-04T15:15:00Z', '2026-04-04T15:30:00Z'])
  })
})

describe('nextTick', () => {
  it('is strictly after `from`, even from an exact tick or a fraction of a second before one', () => {
    const s = parseCron('* * * * * *')
    expect(iso(nextTick(s, 'UTC', Date.parse('2026-01-01T00:00:00Z')))).toBe('2026-01-01T00:00:01Z')
    expect(iso(nextTick(s, 'UTC', Date.parse('2026-01-01T00:00:00.999Z')))).toBe('2026-01-01T00:00:01Z')
    expect(iso(nextTick(parseCron('0 0 1 1 *'), 'Europe/Berlin', Date.parse('2026-06-01T00:00:00Z')))).toBe('2026-12-31T23:00:00Z')
  })
  it('never goes backwards over a year of hourly ticks in every tested zone', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Tokyo']) {
      const t = nextTicks(parseCron('7 * * * *'), tz, new Date('2026-01-01T00:00:00Z'), 24 * 366).map((d) => d.getTime())
      expect(t.every((x, k) => k === 0 || x > t[k - 1]!)).toBe(true)
    }
  })
})
