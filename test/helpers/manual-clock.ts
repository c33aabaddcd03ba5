import type { Clock } from '../../src/lib/clock.js'

/** A Clock that only moves when the test says so. Timers fire in due order as
 *  time is advanced past them; `set` can also step time backwards (an NTP step),
 *  which fires nothing. */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Map<number, { at: number; fn: () => void }>()

  constructor(start: Date | string | number) {
    this.#now = new Date(start).getTime()
  }

  now(): Date {
    return new Date(this.#now)
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const id = ++this.#seq
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn })
    return { cancel: () => void this.#timers.delete(id) }
  }

  get pending(): number {
    return this.#timers.size
  }

  /** When the armed timers fall due (epoch ms), soonest first. */
  dueTimes(): number[] {
    return [...this.#timers.values()].map((t) => t.at).sort((a, b) => a - b)
  }

  /** Move to `to`, firing every timer due on the way, each at its own time. */
  advanceTo(to: Date | string | number): void {
    const target = new Date(to).getTime()
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.#timers) if (e[1].at <= target && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e
      if (!next) break
      this.#timers.delete(next[0])
      this.#now = Math.max(this.#now, next[1].at)
      next[1].fn()
    }
    this.#now = Math.max(this.#now, target)
  }

  advance(ms: number): void {
    this.advanceTo(this.#now + ms)
  }

  /** Jump the wall clock (either direction) without firing anything: timers keep
   *  their remaining delay, as Node's monotonic timers do across an NTP step. */
  set(to: Date | string | number): void {
    const t = new Date(to).getTime()
    const delta = t - this.#now
    for (const e of this.#timers.values()) e.at += delta
    this.#now = t
  }
}

// ---- for tests of async services (the scheduler's supervisor, health loop) ----

export interface ClockSession {
  clock: Clock
  /** a daemon's kill -9: its timers never fire, its later setTimeouts do nothing */
  crash(): void
}

/** A Clock on the same time whose timers die with `crash()`. */
export function clockSession(c: ManualClock): ClockSession {
  let dead = false
  const timers = new Set<{ cancel(): void }>()
  return {
    clock: {
      now: () => c.now(),
      setTimeout: (fn, ms) => {
        if (dead) return { cancel() {} }
        const t = c.setTimeout(() => {
          timers.delete(t)
          if (!dead) fn()
        }, ms)
        timers.add(t)
        return { cancel: () => (timers.delete(t), t.cancel()) }
      },
    },
    crash: () => {
      dead = true
      for (const t of timers) t.cancel()
    },
  }
}

/** Advance `ms`, one due timer at a time, letting the promise chains each timer
 *  starts settle before the next (so they can arm the timers that follow). */
export async function advanceSettled(c: ManualClock, ms: number): Promise<void> {
  const end = c.now().getTime() + ms
  for (;;) {
    await flush()
    const due = c.dueTimes().find((t) => t <= end)
    if (due === undefined) break
    c.advanceTo(due)
  }
  c.advanceTo(end)
  await flush()
}

/** Fire the next armed timer, however far away; the ms advanced (undefined: none armed). */
export async function nextTimer(c: ManualClock): Promise<number | undefined> {
  await flush()
  const due = c.dueTimes()[0]
  if (due === undefined) return undefined
  const ms = due - c.now().getTime()
  await advanceSettled(c, ms)
  return ms
}

/** Delays (ms from now) of the armed timers, soonest first. */
export const pendingDelays = (c: ManualClock) => c.dueTimes().map((t) => t - c.now().getTime())

/** Let promise chains settle (several macrotask turns: SQLite and fs promises in between). */
export async function flush(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r))
}
