// Keeps a log that is being written within its cap, instead of waiting for the
// next sweep: conmon appends as fast as the job writes (≈250 MB/s here), so a
// 5 s sweep let a 1 GB job reach ≈700 MiB on disk against 64 MiB.
//
// One inotify watch (fs.watch) per job dir being written. Every change event
// asks for a check; checks are coalesced (at most one in flight per job, at most
// one per `minGapMs`), so a job writing 30 000 lines a second costs a few
// hundred stat calls a second, not 30 000. A check is a stat, and a compaction
// (hole punch of whole segments) when the retained part is over the cap. The
// peak is the cap plus what the job writes during one gap + one compaction.
// A watch that saw no event for `idleMs` is dropped (a finished job's log never
// changes again); the sweep re-arms it if the file grows after all.
import { watch, type FSWatcher } from 'node:fs'

interface Tracked {
  w: FSWatcher | undefined
  busy: boolean
  dirty: boolean
  timer: NodeJS.Timeout | undefined
  lastCheck: number
  lastEvent: number
}

export class CapGuard {
  readonly #jobs = new Map<string, Tracked>()

  constructor(
    private readonly o: {
      /** stat the log; compact it if over the cap */
      check(id: string): Promise<void>
      minGapMs?: number
      now?: () => number
    },
  ) {}

  get size(): number {
    return this.#jobs.size
  }

  has(id: string): boolean {
    return this.#jobs.has(id)
  }

  /** Watch `dir` (the job's log dir) and check at once. Idempotent. */
  track(id: string, dir: string): void {
    if (this.#jobs.has(id)) return
    const now = this.#now()
    const t: Tracked = { w: undefined, busy: false, dirty: false, timer: undefined, lastCheck: 0, lastEvent: now }
    try {
      t.w = watch(dir, { persistent: false }, () => this.#kick(id))
      t.w.on('error', () => this.untrack(id))
    } catch {
      return // no dir, or inotify watches exhausted: the sweep still bounds it
    }
    this.#jobs.set(id, t)
    this.#kick(id)
  }

  untrack(id: string): void {
    const t = this.#jobs.get(id)
    if (!t) return
    this.#jobs.delete(id)
    clearTimeout(t.timer)
    t.w?.close()
  }

  /** Drop the watches of logs nobody wrote for `idleMs`. */
  pruneIdle(idleMs: number): void {
    const now = this.#now()
    for (const [id, t] of this.#jobs) if (!t.busy && now - t.lastEvent > idleMs) this.untrack(id)
  }

  close(): void {
    for (const id of [...this.#jobs.keys()]) this.untrack(id)
  }

  #now(): number {
    return (this.o.now ?? Date.now)()
  }

  #kick(id: string): void {
    const t = this.#jobs.get(id)
    if (!t) return
    t.lastEvent = this.#now()
    if (t.busy) {
      t.dirty = true
      return
    }
    if (t.timer) return
    const wait = Math.max(0, t.lastCheck + (this.o.minGapMs ?? 10) - this.#now())
    t.timer = setTimeout(() => void this.#run(id, t), wait)
    t.timer.unref?.()
  }

  async #run(id: string, t: Tracked): Promise<void> {
    t.timer = undefined
    t.busy = true
    t.dirty = false
    try {
      await this.o.check(id)
    } catch {
      /* removed meanwhile; the next event or sweep tries again */
    } finally {
      t.busy = false
      t.lastCheck = this.#now()
    }
    if (t.dirty && this.#jobs.get(id) === t) this.#kick(id)
  }
}
