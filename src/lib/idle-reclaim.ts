// Gives memory back to the host once the daemon goes quiet. After a burst of jobs
// the process holds what the burst needed, not what it needs now: V8 keeps the
// heap pages it grew to until its memory reducer gets round to them, and glibc
// keeps freed heap in each thread's arena (the thread pool's included). Measured
// after 1000 jobs here: a full GC gave back ≈10 MiB resident and malloc_trim
// another ≈10 MiB (`npx tsx bench/run.ts memory`). Both are done once per quiet
// period, never while jobs come and go: a full GC of the daemon's ≈25 MiB heap
// pauses the main thread for a few ms.
//
// Activity is a timestamp, not a timer per event: a job makes several events, and
// re-arming a timer for each would cost more than the bookkeeping it replaces.

export interface IdleReclaimOptions {
  /** quiet time after the last activity before reclaiming; 0 turns it off */
  quietMs: number
  /** a full, compacting GC (globalThis.gc under --expose-gc); absent: skipped */
  gc?: () => void
  /** give freed malloc memory back (the addon's mallocTrim); absent: skipped */
  trim?: () => unknown
  /** after each reclaim: how long it took */
  onReclaim?: (ms: number) => void
  now?: () => number
}

export class IdleReclaim {
  #last = 0
  /** armed only by activity: after a reclaim nothing is pending until the next poke */
  #timer: NodeJS.Timeout | undefined
  #reclaims = 0

  constructor(private readonly o: IdleReclaimOptions) {}

  /** How many times memory was reclaimed. */
  get reclaims(): number {
    return this.#reclaims
  }

  /** Something happened (a job changed state, an image arrived). */
  poke(): void {
    if (this.o.quietMs <= 0 || (!this.o.gc && !this.o.trim)) return
    this.#last = this.#now()
    if (!this.#timer) this.#arm(this.o.quietMs)
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#fire(), ms)
    this.#timer.unref()
  }

  #fire(): void {
    this.#timer = undefined
    const quiet = this.#now() - this.#last
    if (quiet < this.o.quietMs) return this.#arm(this.o.quietMs - quiet)
    const t0 = this.#now()
    this.o.gc?.()
    this.o.trim?.()
    this.#reclaims++
    this.o.onReclaim?.(this.#now() - t0)
  }

  #now(): number {
    return (this.o.now ?? Date.now)()
  }
}
