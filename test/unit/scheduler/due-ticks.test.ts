import { describe, expect, it } from 'vitest'
import { decideConcurrency, dueTicks, jitterMs, type DueInput } from '../../../src/scheduler/due-ticks.js'

const S = 1000
// A tick every 10 s (times in seconds in the table, ms in the call).
const every = (step: number) => (t: number) => Math.floor(t / (step * S)) * step * S + step * S
const base: Omit<DueInput, 'cursor' | 'now'> = { armedAt: 0, startingDeadlineMs: null, catchUp: 'once', maxCatchUp: 3, next: every(10), jitter: () => 0 }
const run = (o: Partial<DueInput> & { cursor: number; now: number }) => {
  const r = dueTicks({ ...base, ...o, cursor: o.cursor * S, now: o.now * S, armedAt: (o.armedAt ?? 0) * S, startingDeadlineMs: o.startingDeadlineMs ?? null })
  return {
    fire: r.fire.map((f) => `${f.at / S}${f.catchUp ? ' catch-up' : ''}`),
    missed: r.missed.map((m) => `${m.at / S} ${m.reason}`),
    cursor: r.cursor / S,
    wakeAt: r.wakeAt === undefined ? undefined : r.wakeAt / S,
  }
}

describe('dueTicks', () => {
  const table: [string, Partial<DueInput> & { cursor: number; now: number }, ReturnType<typeof run>][] = [
    ['on time: the tick fires', { cursor: 100, now: 110.005 }, { fire: ['110'], missed: [], cursor: 110, wakeAt: 120 }],
    ['not yet due: nothing, wake at the tick', { cursor: 100, now: 109.999 }, { fire: [], missed: [], cursor: 100, wakeAt: 110 }],
    ['clock stepped back below the cursor: nothing fires twice', { cursor: 200, now: 150 }, { fire: [], missed: [], cursor: 200, wakeAt: 210 }],
    // down from 101 s to 145 s: ticks 110…140 came while nobody watched
    ['down, skip: every missed tick recorded', { cursor: 100, now: 145, armedAt: 145, catchUp: 'skip' }, { fire: [], missed: ['110 catch-up', '120 catch-up', '130 catch-up', '140 catch-up'], cursor: 140, wakeAt: 150 }],
    ['down, once, covering deadline: the newest runs', { cursor: 100, now: 145, armedAt: 145, startingDeadlineMs: 60 * S }, { fire: ['140 catch-up'], missed: ['110 catch-up', '120 catch-up', '130 catch-up'], cursor: 140, wakeAt: 150 }],
    ['down, once, short deadline: none runs', { cursor: 100, now: 145, armedAt: 145, startingDeadlineMs: 2 * S }, { fire: [], missed: ['110 deadline', '120 deadline', '130 deadline', '140 deadline'], cursor: 140, wakeAt: 150 }],
    ['down, once, deadline covers some: the newest of those', { cursor: 100, now: 145, armedAt: 145, startingDeadlineMs: 30 * S }, { fire: ['140 catch-up'], missed: ['110 deadline', '120 catch-up', '130 catch-up'], cursor: 140, wakeAt: 150 }],
    ['down, all, max 2: the oldest two, the rest missed', { cursor: 100, now: 155, armedAt: 155, catchUp: 'all', maxCatchUp: 2 }, { fire: ['110 catch-up', '120 catch-up'], missed: ['130 max-catch-up', '140 max-catch-up', '150 max-catch-up'], cursor: 150, wakeAt: 160 }],
    ['down, all, deadline first, then the limit', { cursor: 100, now: 145, armedAt: 145, catchUp: 'all', maxCatchUp: 2, startingDeadlineMs: 30 * S }, { fire: ['120 catch-up', '130 catch-up'], missed: ['110 deadline', '140 max-catch-up'], cursor: 140, wakeAt: 150 }],
    ['stalled loop, once: the current tick fires, older ones are missed', { cursor: 100, now: 131 }, { fire: ['130'], missed: ['110 catch-up', '120 catch-up'], cursor: 130, wakeAt: 140 }],
    ['stalled loop, all: every tick, oldest first', { cursor: 100, now: 131, catchUp: 'all' }, { fire: ['110 catch-up', '120 catch-up', '130'], missed: [], cursor: 130, wakeAt: 140 }],
    ['current tick beyond the deadline: missed', { cursor: 100, now: 115, startingDeadlineMs: 2 * S }, { fire: [], missed: ['110 deadline'], cursor: 110, wakeAt: 120 }],
    ['jitter delays the fire, not the tick', { cursor: 100, now: 112.5, jitter: () => 3 * S }, { fire: [], missed: [], cursor: 100, wakeAt: 113 }],
    ['jittered tick is due at its fire time', { cursor: 100, now: 113, jitter: () => 3 * S }, { fire: ['110'], missed: [], cursor: 110, wakeAt: 123 }],
    ['lead: a tick less than the lead away is decided now; wake a lead before the next', { cursor: 100, now: 109.5, leadMs: 1 * S }, { fire: ['110'], missed: [], cursor: 110, wakeAt: 119 }],
    ['lead: a tick further away than the lead waits', { cursor: 100, now: 108.9, leadMs: 1 * S }, { fire: [], missed: [], cursor: 100, wakeAt: 109 }],
    ['lead: a late tick fires first, the next is not taken early behind it', { cursor: 100, now: 119.5, leadMs: 1 * S }, { fire: ['110'], missed: [], cursor: 110, wakeAt: 119 }],
    ['lead: after a stall, nothing early either; the late ones as always', { cursor: 100, now: 129.5, leadMs: 1 * S, catchUp: 'skip' }, { fire: ['120'], missed: ['110 catch-up'], cursor: 120, wakeAt: 129 }],
    ['lead with jitter: early to the jittered fire time', { cursor: 100, now: 112.2, leadMs: 1 * S, jitter: () => 3 * S }, { fire: ['110'], missed: [], cursor: 110, wakeAt: 122 }],
    ['a jittered tick is never overtaken by a later one', { cursor: 100, now: 121, jitter: (t) => (t === 110 * S ? 15 * S : 0) }, { fire: [], missed: [], cursor: 100, wakeAt: 125 }],
  ]
  it.each(table)('%s', (_name, input, want) => {
    expect(run(input)).toEqual(want)
  })

  it('a forward clock step of an hour on an every-second schedule is one run, not a burst', () => {
    const r = dueTicks({ ...base, next: every(1), cursor: 100 * S, now: 3700 * S, armedAt: 0 })
    expect(r.fire).toEqual([{ at: 3700 * S, catchUp: false }])
    expect(r.missed.length).toBeLessThanOrEqual(2000)
    expect(r.missed.length + r.uncounted!.count).toBeGreaterThan(3590)
    expect(r.missed.length + r.uncounted!.count).toBeLessThan(3610)
    expect(r.cursor).toBe(3700 * S)
  })

  it('an outage longer than maxScan: bounded work, the cursor reaches now, the misses are counted', () => {
    const r = dueTicks({ ...base, next: every(1), cursor: 0, now: 10_000 * S + 500, armedAt: 10_000 * S + 500, catchUp: 'skip', maxScan: 100 })
    expect(r.fire).toEqual([])
    expect(r.cursor).toBe(10_000 * S)
    expect(r.missed.length).toBeLessThanOrEqual(100)
    expect(r.uncounted!.count + r.missed.length).toBe(10_000)
  })
})

describe('decideConcurrency', () => {
  it.each([
    ['allow', [], { start: true, stop: [] }],
    ['allow', ['a'], { start: true, stop: [] }],
    ['forbid', [], { start: true, stop: [] }],
    ['forbid', ['a'], { start: false, stop: [] }],
    ['replace', [], { start: true, stop: [] }],
    ['replace', ['a', 'b'], { start: true, stop: ['a', 'b'] }],
  ] as const)('%s with active %j → %j', (policy, active, want) => {
    expect(decideConcurrency(policy, active)).toEqual(want)
  })
})

describe('jitterMs', () => {
  it('is deterministic per (schedule, tick), within [0, max), and spread out', () => {
    const xs = Array.from({ length: 200 }, (_, k) => jitterMs('sched-1', k * 60_000, 30_000))
    expect(xs).toEqual(Array.from({ length: 200 }, (_, k) => jitterMs('sched-1', k * 60_000, 30_000)))
    expect(xs.every((x) => x >= 0 && x < 30_000)).toBe(true)
    expect(new Set(xs).size).toBeGreaterThan(150)
    expect(jitterMs('sched-1', 0, 0)).toBe(0)
    expect(jitterMs('sched-2', 0, 30_000)).not.toBe(jitterMs('sched-1', 0, 30_000))
  })
})
