import { describe, expect, it } from 'vitest'
import { backoffDelay, decideRestart, DEFAULT_BACKOFF, formatRestartPolicy, parseRestartPolicy, startsOnBoot, type AttemptEnding, type RestartPolicy } from '../../../src/scheduler/restart-policy.js'

const fail: AttemptEnding = { cause: 'workload', success: false, ranForMs: 50 }
const ok: AttemptEnding = { cause: 'workload', success: true, ranForMs: 50 }
const h0 = { failures: 0, backoffStep: 0 }

describe('parseRestartPolicy', () => {
  it.each([
    ['no', { mode: 'no' }],
    ['always', { mode: 'always' }],
    ['unless-stopped', { mode: 'unless-stopped' }],
    ['on-failure', { mode: 'on-failure' }],
    ['on-failure:3', { mode: 'on-failure', maxRetries: 3 }],
    ['on-failure:0', { mode: 'on-failure' }],
  ] as const)('%s', (s, want) => {
    expect(parseRestartPolicy(s)).toEqual(want)
    expect(parseRestartPolicy(formatRestartPolicy(want as RestartPolicy))).toEqual(want)
  })
  it.each(['', 'sometimes', 'always:3', 'on-failure:-1', 'on-failure:x', 'on-failure:99999999', 'ON-FAILURE'])('rejects %j naming the field', (s) => {
    expect(() => parseRestartPolicy(s, 'restart')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: expect.objectContaining({ field: 'restart' }) }))
  })
})

describe('backoffDelay', () => {
  it('doubles from 100 ms and caps at 1 min (docker)', () => {
    expect([0, 1, 2, 3, 9, 10, 20].map((s) => backoffDelay(DEFAULT_BACKOFF, s, 0.5))).toEqual([100, 200, 400, 800, 51_200, 60_000, 60_000])
  })
  it('jitter stays within ± its fraction and never past the cap', () => {
    const b = { ...DEFAULT_BACKOFF, jitter: 0.5 }
    expect(backoffDelay(b, 2, 0)).toBe(200)
    expect(backoffDelay(b, 2, 0.999999)).toBe(600)
    expect(backoffDelay(b, 30, 0.999)).toBe(60_000)
  })
  it('takes any factor and an initial 0 (restart at once)', () => {
    expect(backoffDelay({ ...DEFAULT_BACKOFF, initialMs: 0 }, 5, 0.5)).toBe(0)
    expect(backoffDelay({ ...DEFAULT_BACKOFF, initialMs: 1000, factor: 3, maxMs: 5000 }, 1, 0.5)).toBe(3000)
  })
})

describe('decideRestart', () => {
  const cases: [string, RestartPolicy, { failures: number; backoffStep: number }, AttemptEnding, ReturnType<typeof decideRestart>][] = [
    ['no never restarts', { mode: 'no' }, h0, fail, { restart: false, reason: 'policy' }],
    ['no: not even after a platform failure', { mode: 'no' }, h0, { cause: 'platform', success: false, ranForMs: 0 }, { restart: false, reason: 'policy' }],
    ['on-failure restarts a failure, counted', { mode: 'on-failure', maxRetries: 3 }, h0, fail, { restart: true, delayMs: 100, counts: true, next: { failures: 1, backoffStep: 1 } }],
    ['on-failure leaves a success alone', { mode: 'on-failure', maxRetries: 3 }, h0, ok, { restart: false, reason: 'policy' }],
    ['on-failure:3 after 3 restarts stops', { mode: 'on-failure', maxRetries: 3 }, { failures: 3, backoffStep: 3 }, fail, { restart: false, reason: 'max-retries' }],
    ['on-failure:3 third restart waits 400 ms', { mode: 'on-failure', maxRetries: 3 }, { failures: 2, backoffStep: 2 }, fail, { restart: true, delayMs: 400, counts: true, next: { failures: 3, backoffStep: 3 } }],
    ['on-failure without max never runs out', { mode: 'on-failure' }, { failures: 1000, backoffStep: 30 }, fail, { restart: true, delayMs: 60_000, counts: true, next: { failures: 1001, backoffStep: 31 } }],
    ['always restarts a success too', { mode: 'always' }, h0, ok, { restart: true, delayMs: 100, counts: true, next: { failures: 1, backoffStep: 1 } }],
    ['a long run resets the delay', { mode: 'always' }, { failures: 7, backoffStep: 7 }, { cause: 'workload', success: false, ranForMs: 10_000 }, { restart: true, delayMs: 100, counts: true, next: { failures: 8, backoffStep: 1 } }],
    ['a user stop is never restarted', { mode: 'always' }, h0, { cause: 'user', success: false, ranForMs: 5 }, { restart: false, reason: 'stopped-by-user' }],
    ['a platform failure retries without using the budget', { mode: 'on-failure', maxRetries: 1 }, { failures: 1, backoffStep: 1 }, { cause: 'platform', success: false, ranForMs: 0 }, { restart: true, delayMs: 200, counts: false, next: { failures: 1, backoffStep: 2 } }],
    ['unhealthy restarts under any policy, uncounted', { mode: 'no' }, h0, { cause: 'unhealthy', success: false, ranForMs: 50 }, { restart: true, delayMs: 100, counts: false, next: { failures: 0, backoffStep: 1 } }],
  ]
  it.each(cases)('%s', (_, p, h, end, want) => expect(decideRestart(p, DEFAULT_BACKOFF, h, end, 0.5)).toEqual(want))

  it('on-failure:3 from a fresh job: exactly 3 restarts with growing delays, then no more', () => {
    let h = h0
    const delays: number[] = []
    for (;;) {
      const d = decideRestart({ mode: 'on-failure', maxRetries: 3 }, DEFAULT_BACKOFF, h, fail, 0.5)
      if (!d.restart) {
        expect(d.reason).toBe('max-retries')
        break
      }
      delays.push(d.delayMs)
      h = d.next
    }
    expect(delays).toEqual([100, 200, 400])
  })
})

describe('startsOnBoot', () => {
  it.each([
    [{ mode: 'always' }, true, true],
    [{ mode: 'always' }, false, true],
    [{ mode: 'unless-stopped' }, true, false],
    [{ mode: 'unless-stopped' }, false, true],
    [{ mode: 'on-failure' }, false, false],
    [{ mode: 'no' }, false, false],
  ] as const)('%o stoppedByUser=%s → %s', (p, stopped, want) => expect(startsOnBoot(p, stopped)).toBe(want))
})
