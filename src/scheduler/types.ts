import type { AttemptState, JobState } from './job-state.js'
import type { HealthConfig, HealthState } from './health.js'
import type { Backoff, RestartPolicy } from './restart-policy.js'
import type { PortRequest } from './publish.js'

/** A validated run request, already in skiff units (bytes, ms). The HTTP layer
 *  turns user-shaped input ("256m", "30s", cmd as a string) into this. */
export interface RunSpec {
  image: string
  cmd?: string[]
  entrypoint?: string[]
  env: Record<string, string>
  workdir?: string
  user?: string
  hostname?: string
  name?: string
  labels: Record<string, string>
  /** Bytes fed to the job's stdin, then EOF (or, with `interactive`, first). Absent: stdin is /dev/null. */
  stdin?: string
  /** Keep stdin open for writers (attach, POST /jobs/:id/stdin), like `docker run -i`. */
  interactive?: boolean
  /** a small init as PID 1 that forwards signals and reaps zombies (docker run --init) */
  init?: boolean
  /** a pseudo-terminal (docker run -t); its initial size */
  tty?: boolean
  consoleSize?: { rows: number; cols: number }
  limits: { memoryBytes?: number; cpus?: number; pids?: number; timeoutMs?: number; /** bytes the writable layer may hold (limits.disk) */ diskBytes?: number }
  /** none: only lo; host: the host's network; bridge: a skiff network (`default` unless named) */
  network: { mode: 'none' | 'host' | 'bridge'; name?: string; aliases?: string[] }
  /** published ports (bridge only), parsed from docker's -p syntax */
  ports?: PortRequest[]
  readonlyRootfs?: boolean
  /** Capabilities added to / dropped from the default set (normalized: CAP_NET_RAW, or ALL). */
  capAdd?: string[]
  capDrop?: string[]
  pull: 'missing' | 'always' | 'never'
  /** Absent: "no". */
  restart?: RestartPolicy
  /** Absent: DEFAULT_BACKOFF (docker's numbers). */
  backoff?: Backoff
  /** Absent: the image's HEALTHCHECK, if any; 'none' disables it. Fields left
   *  out (the test too) are the image's, then docker's defaults. */
  healthcheck?: Partial<HealthConfig> | 'none'
  /** What an unhealthy job gets (absent: none). */
  onUnhealthy?: 'none' | 'restart' | 'stop' | 'kill'
  /** Signal a stop sends first (absent: the image's StopSignal, else SIGTERM). */
  stopSignal?: string
  /** Grace time between the stop signal and SIGKILL (absent: 10 s, docker's). */
  stopTimeoutMs?: number
  /** docker run --rm: the writable layer goes when the job settles (the job's
   *  record and logs stay until it is removed). Without it the layer is kept
   *  across restarts and starts, until the job is removed. */
  autoRemove?: boolean
  /** ISO time: the first attempt is prepared (pulled, mounted, created) as soon as
   *  it is dispatched but started only at this instant — a scheduled run decided
   *  ahead of its tick. Later attempts start when their backoff says. */
  notBefore?: string
  /** A per-connection service (xinetd, systemd Accept=yes): skiff listens on the
   *  host port and each TCP connection gets a fresh container (a child job) with
   *  the connection as its stdin and stdout. The job itself is the listener. */
  listen?: ListenSpec
}

export interface ListenSpec {
  hostIp: string
  port: number
  perConnection: true
  /** connections served at once; one more is refused (closed, counted) */
  maxConnections: number
  /** each connection's container is killed after this long (absent: limits.timeoutMs, else none) */
  timeoutMs?: number
  /** settled connection jobs kept (with their logs); older ones are removed as new ones settle (absent: DEFAULT_KEEP_CONNECTIONS) */
  keep?: number
}

/** A listener's connections: a connection is a child job (`parentId`). */
export interface ConnectionCounts {
  /** child jobs not settled */
  active: number
  /** connections accepted (child jobs made) since the job was created */
  total: number
  /** connections closed unserved: max_connections reached, queue full, listener closing */
  refused: number
}

export interface JobUsage {
  wallMs: number
  cpuUserMs: number
  cpuSysMs: number
  memoryPeakBytes: number
}

export interface Job {
  id: string
  name: string | null
  state: JobState
  image: string
  imageId: string | null
  spec: RunSpec
  labels: Record<string, string>
  reason: string | null
  message: string | null
  exitCode: number | null
  signal: string | null
  oomKilled: boolean
  timedOut: boolean
  usage: JobUsage | null
  /** attempts started after the first */
  restarts: number
  /** the current (or last) attempt's number; 0 before the first */
  attempt: number
  /** restarts caused by the workload's own exits (on-failure's budget) */
  failures: number
  backoffStep: number
  queuedAt: Date | null
  nextAttemptAt: Date | null
  stoppedByUser: boolean
  stopDeadline: Date | null
  health: HealthState | null
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
  /** the listener job this connection's job belongs to (RunSpec.listen) */
  parentId: string | null
  /** a listener's accepted and refused connections (the active ones are counted by JobRepo.activeChildren) */
  connTotal: number
  connRefused: number
}

export interface Attempt {
  jobId: string
  n: number
  containerId: string
  state: AttemptState
  reason: string | null
  message: string | null
  exitCode: number | null
  signal: string | null
  oomKilled: boolean
  timedOut: boolean
  usage: JobUsage | null
  logOffset: number | null
  createdAt: Date
  startedAt: Date | null
  finishedAt: Date | null
}

export interface JobEvent {
  state: JobState
  time: Date
  detail: string | null
}

export interface JobQuery {
  state?: JobState[]
  name?: string
  labels?: Record<string, string>
  /** Only the connections (child jobs) of this listener job. */
  parent?: string
  /** Cursor: list jobs with id < before (ULIDs sort by time). */
  before?: string
  limit?: number
}

export interface Page<T> {
  items: T[]
  next: string | null
}
