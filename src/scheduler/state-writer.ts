import type { EventBus } from '../events.js'
import type { Clock } from '../lib/clock.js'
import type { AttemptPatch, JobPatch, JobRepo, TransitionPatch } from './job-repo.js'
import { isFinal, type JobState } from './job-state.js'
import type { Job } from './types.js'

/** Every write that changes what a job looks like goes through here: committed
 *  to SQLite first, then published, so a subscriber never sees a state the disk
 *  does not have. */
export class StateWriter {
  constructor(
    readonly repo: JobRepo,
    private readonly events: EventBus,
    private readonly clock: Clock,
  ) {}

  transition(id: string, to: JobState, patch: TransitionPatch = {}, attempt?: AttemptPatch): Job {
    const job = this.repo.transition(id, to, this.clock.now(), patch, attempt)
    this.publish(job)
    return job
  }

  /** A transition into a settled state: stamps finishedAt (and the attempt's). */
  settle(id: string, to: JobState, patch: TransitionPatch = {}, attempt?: AttemptPatch): Job {
    const now = this.clock.now()
    return this.transition(id, to, { finishedAt: now, nextAttemptAt: null, stopDeadline: null, ...patch }, attempt && { finishedAt: now, ...attempt })
  }

  /** Columns that are not a state change (health, policy). Published as a state event too. */
  update(id: string, patch: JobPatch): Job {
    const job = this.repo.update(id, patch)
    this.events.emit('job.state', job)
    return job
  }

  /** Where attempt n's output begins in the job's log: recorded (and announced to
   *  log followers) before its container can write a byte. */
  attemptLog(jobId: string, n: number, logOffset: number): void {
    this.repo.updateAttempt(jobId, n, { logOffset })
    this.events.emit('job.attempt', { jobId, n, logOffset })
  }

  publish(job: Job): void {
    this.events.emit('job.state', job)
    if (isFinal(job.state)) this.events.emit('job.final', job)
  }
}
