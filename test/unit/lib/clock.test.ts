import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_TIMER_MS, realClock } from '../../../src/lib/clock.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('realClock.setTimeout', () => {
  it('holds a delay longer than one Node timer (which would fire after 1 ms)', () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    const thirtyDays = 30 * 86_400_000
    expect(thirtyDays).toBeGreaterThan(MAX_TIMER_MS)
    realClock.setTimeout(fired, thirtyDays)
    vi.advanceTimersByTime(MAX_TIMER_MS)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(thirtyDays - MAX_TIMER_MS - 1)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(fired).toHaveBeenCalledTimes(1)
  })
  it('cancels a chained timer', () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    const t = realClock.setTimeout(fired, 3 * MAX_TIMER_MS)
    vi.advanceTimersByTime(MAX_TIMER_MS + 5)
    t.cancel()
    vi.advanceTimersByTime(3 * MAX_TIMER_MS)
    expect(fired).not.toHaveBeenCalled()
  })
})
