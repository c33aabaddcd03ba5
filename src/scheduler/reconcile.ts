import type { JobState } from './job-state.js'
import { startsOnBoot, type RestartPolicy } from './restart-policy.js'

/** What a starting daemon does with a job the database says it had.
 *  - queued: nothing; the queue is the table.
 *  - backoff: re-arm the restart timer from the recorded next-attempt time.
 *  - pulling: the workload never ran; retry it (uncounted: the platform failed).
 *  - starting / running: re-adopt the attempt's container — it may still run
 *    (its monitor outlived us) or have exited meanwhile (its exit is recorded
 *    then, and the restart policy applies). A `starting` attempt whose container
 *    is gone never ran its workload: it is retried, uncounted, like a pull.
 *  - settled: comes back only if its policy says so (docker: `always` even after a
 *    manual stop, `unless-stopped` unless the user stopped it). */
export type BootAction = 'none' | 'arm-backoff' | 'requeue' | 'adopt' | 'start'

export function bootAction(job: { state: JobState; stoppedByUser: boolean; restart: RestartPolicy }): BootAction {
  switch (job.state) {
    case 'queued':
      return 'none'
    case 'backoff':
      return 'arm-backoff'
    case 'pulling':
      return 'requeue'
    case 'starting':
    case 'running':
      return 'adopt'
    default:
      return startsOnBoot(job.restart, job.stoppedByUser) ? 'start' : 'none'
  }
}
