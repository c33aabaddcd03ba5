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
