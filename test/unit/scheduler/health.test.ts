import { describe, expect, it } from 'vitest'
import { healthConfigOf } from '../../../src/scheduler/supervisor.js'
import type { RunSpec } from '../../../src/scheduler/types.js'
import { foldProbe, fromImageHealthcheck, initialHealth, nextProbeDelay, probeArgv, type HealthConfig, type HealthState } from '../../../src/scheduler/health.js'

const cfg: HealthConfig = { test: ['true'], intervalMs: 1000, timeoutMs: 500, retries: 3, startPeriodMs: 0, startIntervalMs: 100 }
const r = (exitCode: number | null, output = '') => ({ start: 't0', end: 't1', exitCode, output })
const run = (results: (number | null)[], c = cfg, sinceStart = (i: number) => 10_000 + i) => {
  let s = initialHealth()
  const statuses: string[] = []
  results.forEach((x, i) => {
    s = foldProbe(s, r(x), c, sinceStart(i))
    statuses.push(s.status)
  })
  return { s, statuses }
}

describe('health folding (docker semantics)', () => {
  it.each([
    ['starting until the first result', [], []],
    ['one success is healthy', [0], ['healthy']],
    ['retries failures in a row make it unhealthy', [1, 1, 1], ['starting', 'starting', 'unhealthy']],
    ['a success in between resets the streak', [0, 1, 1, 0, 1, 1, 1], ['healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'healthy', 'unhealthy']],
    ['one success heals an unhealthy job', [1, 1, 1, 0], ['starting', 'starting', 'unhealthy', 'healthy']],
    ['a timed-out probe (no exit code) is a failure', [null, null, null], ['starting', 'starting', 'unhealthy']],
  ] as const)('%s', (_, results, want) => expect(run([...results]).statuses).toEqual(want))

  it('failures during the start period do not count; after it they do', () => {
    const c = { ...cfg, startPeriodMs: 5000 }
    const { s, statuses } = run([1, 1, 1, 1, 1, 1], c, (i) => (i < 4 ? 1000 * i : 6000 + i))
    expect(statuses).toEqual(['starting', 'starting', 'starting', 'starting', 'starting', 'starting'])
    expect(s.failingStreak).toBe(2)
    expect(foldProbe(s, r(1), c, 7000).status).toBe('unhealthy')
  })

  it('a success ends the start period early: later failures count at once', () => {
    const c = { ...cfg, startPeriodMs: 60_000 }
    const { statuses } = run([0, 1, 1, 1], c, () => 1000)
    expect(statuses).toEqual(['healthy', 'healthy', 'healthy', 'unhealthy'])
  })

  it('keeps the last 5 results with a bounded output tail', () => {
    let s: HealthState = initialHealth()
    for (let i = 0; i < 8; i++) s = foldProbe(s, r(0, `${i}`.repeat(10_000)), cfg, 10_000)
    expect(s.log).toHaveLength(5)
    expect(s.log[0]!.output[0]).toBe('3')
    expect(s.log.every((l) => l.output.length <= 4096)).toBe(true)
  })

  it('probes every start_interval during the start period, every interval after', () => {
    const c = { ...cfg, startPeriodMs: 5000 }
    expect(nextProbeDelay(initialHealth(), c, 1000)).toBe(100)
    expect(nextProbeDelay(initialHealth(), c, 6000)).toBe(1000)
    expect(nextProbeDelay({ ...initialHealth(), started: true }, c, 1000)).toBe(1000)
  })
})

describe('image healthchecks', () => {
  it.each([
    [['CMD', 'curl', '-f', 'http://localhost/'], ['curl', '-f', 'http://localhost/']],
    [['CMD-SHELL', 'curl -f http://localhost/ || exit 1'], ['/bin/sh', '-c', 'curl -f http://localhost/ || exit 1']],
    [['NONE'], undefined],
    [['CMD'], undefined],
  ])('%j → %j', (test, want) => expect(probeArgv(test)).toEqual(want))

  it('converts docker nanoseconds and fills the defaults', () => {
    expect(fromImageHealthcheck({ Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 })).toEqual({
      test: ['/bin/sh', '-c', 'true'], intervalMs: 5000, timeoutMs: 30_000, retries: 2, startPeriodMs: 0, startIntervalMs: 5000,
    })
    expect(fromImageHealthcheck({ Test: ['NONE'] })).toBeUndefined()
    expect(fromImageHealthcheck(undefined)).toBeUndefined()
  })
})

describe('the job\'s healthcheck over the image\'s', () => {
  const img = { Test: ['CMD', 'probe'], Interval: 5e9, Retries: 5 }
  it.each([
    ['the image\'s alone', undefined, img, { test: ['probe'], intervalMs: 5000, retries: 5, timeoutMs: 30_000 }],
    ['own fields over it, the test kept', { intervalMs: 100 }, img, { test: ['probe'], intervalMs: 100, retries: 5 }],
    ['its own test', { test: ['mine'] }, img, { test: ['mine'], intervalMs: 5000 }],
    ['its own without an image one', { test: ['mine'] }, undefined, { test: ['mine'], intervalMs: 30_000, retries: 3 }],
  ] as const)('%s', (_, own, image, want) => expect(healthConfigOf(spec(own), image)).toMatchObject(want))
  it('none without a test from either, and none when disabled', () => {
    expect(healthConfigOf(spec({ intervalMs: 100 }), undefined)).toBeUndefined()
    expect(healthConfigOf({ ...spec(undefined), healthcheck: 'none' }, img)).toBeUndefined()
  })
})

function spec(hc: Record<string, unknown> | undefined): RunSpec {
  return { image: 'x', env: {}, labels: {}, limits: {}, network: { mode: 'none' }, pull: 'missing', ...(hc ? { healthcheck: hc } : {}) }
}
