import type { Clock } from '../lib/clock.js'
import { SkiffError } from '../lib/errors.js'
import { admit, type AdmissionLimits } from './admission.js'
import type { JobRepo } from './job-repo.js'
import type { Job } from './types.js'

export interface DispatcherDeps {
  repo: JobRepo
  clock: Clock
  limits: AdmissionLimits & { maxQueued: number }
  /** What holds a slot now (attempts pulling, starting or running). */
  active(): { count: number; memoryBytes: number }
  /** A job just claimed (now `pulling`, its attempt opened): run it. */
  run(job: Job): void
}

/** The queue is the jobs table (state `queued`, ordered by `queued_at`); this
 *  only decides, with the pure `admit`, which of its head may start now, and
 *  claims them through the store. Nothing is held in memory, so a restarted
 *  daemon (or, later, another node on the same database) sees the same queue. */
export class Dispatcher {
  #scheduled = false
  #running = false
  #accepting = false

  constructor(private readonly d: DispatcherDeps) {}

  /** QUEUE_FULL once `maxQueued` jobs wait (the 503 a client retries). */
  assertCapacity(): void {
    const n = this.d.repo.queuedCount()
    if (n >= this.d.limits.maxQueued)
      throw new SkiffError('resource_exhausted', 'QUEUE_FULL', `job queue is full (${this.d.limits.maxQueued} queued); retry later`)
  }

  get depth(): number {
    return this.d.repo.queuedCount()
  }

  start(): void {
    this.#accepting = true
    this.dispatch()
  }

  stop(): void {
    this.#accepting = false
  }

  /** Dispatch soon (once per turn, however many submits or releases ask). */
  kick(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      this.dispatch()
    })
  }

  dispatch(): void {
    if (this.#running || !this.#accepting) return
    this.#running = true
    try {
      const active = this.d.active()
      const free = this.d.limits.maxConcurrent - active.count
      if (free <= 0) return
      for (const id of admit(this.d.repo.queuedHead(free), active, this.d.limits)) {
        const job = this.d.repo.claim(id, this.d.clock.now())
        if (job) this.d.run(job)
      }
    } finally {
      this.#running = false
    }
  }
}
