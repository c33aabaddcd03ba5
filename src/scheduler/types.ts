import type { JobState } from './job-state.js'

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
  limits: { memoryBytes?: number; cpus?: number; pids?: number; timeoutMs?: number }
  network: { mode: 'none' | 'host' }
  readonlyRootfs?: boolean
  /** Capabilities added to / dropped from the default set (normalized: CAP_NET_RAW, or ALL). */
  capAdd?: string[]
  capDrop?: string[]
  pull: 'missing' | 'always' | 'never'
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
  restarts: number
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
  /** Cursor: list jobs with id < before (ULIDs sort by time). */
  before?: string
  limit?: number
}

export interface Page<T> {
  items: T[]
  next: string | null
}
