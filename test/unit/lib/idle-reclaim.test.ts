import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { IdleReclaim } from '../../../src/lib/idle-reclaim.js'

describe('IdleReclaim', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  const make = (quietMs = 1000) => {
    const calls: string[] = []
    const r = new IdleReclaim({ quietMs, gc: () => calls.push('gc'), trim: () => calls.push('trim') })
    return { r, calls }
  }

  it('reclaims once, quietMs after the last activity, gc before trim', () => {
    const { r, calls } = make()
    r.poke()
    vi.advanceTimersByTime(600)
    r.poke() // activity pushes it back
    vi.advanceTimersByTime(600)
    expect(calls).toEqual([])
    vi.advanceTimersByTime(400)
    expect(calls).toEqual(['gc', 'trim'])
    vi.advanceTimersByTime(10_000)
    expect(calls).toEqual(['gc', 'trim']) // nothing happened since: nothing to give back
    expect(r.reclaims).toBe(1)
  })

  it('never while activity keeps coming, then once it stops', () => {
    const { r, calls } = make()
    for (let i = 0; i < 50; i++) {
      r.poke()
      vi.advanceTimersByTime(100)
    }
    expect(calls).toEqual([])
    vi.advanceTimersByTime(1000)
    expect(r.reclaims).toBe(1)
    r.poke()
    vi.advanceTimersByTime(1000)
    expect(r.reclaims).toBe(2)
  })

  it.each([
    ['quietMs 0', { quietMs: 0, gc: () => {}, trim: () => {} }],
    ['neither gc nor trim available', { quietMs: 1000 }],
  ])('does nothing with %s', (_what, o) => {
    const r = new IdleReclaim(o)
    r.poke()
    vi.advanceTimersByTime(5000)
    expect(r.reclaims).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('close() cancels a pending reclaim', () => {
    const { r, calls } = make()
    r.poke()
    r.close()
    vi.advanceTimersByTime(5000)
    expect(calls).toEqual([])
  })
})
