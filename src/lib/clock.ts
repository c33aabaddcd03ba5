/** Time, passed in so tests can drive it; nothing else in skiff reads Date.now() for decisions. */
export interface Clock {
  now(): Date
  setTimeout(fn: () => void, ms: number): { cancel(): void }
}

/** The longest delay one Node timer holds (a signed 32-bit ms count); a longer
 *  one fires after 1 ms with a TimeoutOverflowWarning. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export const realClock: Clock = {
  now: () => new Date(),
  // Longer than one timer can hold (a job timeout of 30 days): chain timers
  // until the deadline, measured against the wall clock.
  setTimeout(fn, ms) {
    let t: NodeJS.Timeout
    const arm = (left: number, run: () => void) => {
      t = setTimeout(run, left)
      t.unref?.()
    }
    if (ms <= MAX_TIMER_MS) arm(ms, fn)
    else {
      const deadline = Date.now() + ms
      const step = () => {
        const rest = deadline - Date.now()
        if (rest > MAX_TIMER_MS) arm(MAX_TIMER_MS, step)
        else arm(Math.max(rest, 0), fn)
      }
      step()
    }
    return { cancel: () => clearTimeout(t) }
  },
}
