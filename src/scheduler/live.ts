import type { ImageConfig } from '../images/index.js'
import type { HealthMonitor } from './health-monitor.js'
import type { ContainerLike, StdinLike } from './ports.js'

/** What skiff holds in memory for an attempt in progress. SQLite is the truth;
 *  this is only what cannot be stored: the live container handle, abort
 *  switches, timers, and what the user asked of this attempt (to tell a stop
 *  from a crash when the exit comes). */
export interface LiveAttempt {
  jobId: string
  n: number
  memoryBytes: number
  abort: AbortController
  container?: ContainerLike
  /** an interactive job's open stdin, from create until it is closed or the attempt ends */
  stdin?: StdinLike
  /** the config of the image the attempt runs (healthcheck and stop signal defaults) */
  imageConfig?: ImageConfig
  /** the signal a stop sends first (spec, else the image's StopSignal, else SIGTERM) */
  stopSignal: NodeJS.Signals
  /** created, waiting for its spec's notBefore to start (a run prepared ahead of its tick) */
  awaitingStart?: boolean
  /** when the attempt's process started (ms), for health start periods */
  startedAtMs?: number
  /** stop(): the attempt ends `stopped`, never restarted */
  userStop?: boolean
  /** kill(): the attempt ends `killed`; `manual` (SIGKILL or the stop signal) also bars a restart */
  userKill?: { signal: NodeJS.Signals; manual: boolean }
  /** its healthcheck's on_unhealthy=restart ended it */
  unhealthyRestart?: boolean
  stopTimer?: { cancel(): void }
  /** a per-connection listener (RunSpec.listen): no container, holds no admission slot */
  listener?: boolean
  /** why a kill ended it, recorded instead of a plain `killed` (a connection closed, its listener stopped) */
  endReason?: { reason: string; message: string }
  health?: HealthMonitor
}
