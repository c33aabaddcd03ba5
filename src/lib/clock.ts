/** Time, passed in so tests can drive it; nothing else in skiff reads Date.now() for decisions. */
export interface Clock {
  now(): Date
  setTimeout(fn: () => void, ms: number): { cancel(): void }
}

export const realClock: Clock = {
  now: () => new Date(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref?.()
    return { cancel: () => clearTimeout(t) }
  },
}
