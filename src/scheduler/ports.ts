import type { ImageRecord } from '../images/types.js'
import type { Job, RunSpec } from './types.js'
import type { BridgeNetwork, ContainerSpec, HostEntry, NetworkSpec } from '../runtime/index.js'

/** What the scheduler needs from the other layers. daemon.ts passes the real
 *  services (which satisfy these structurally); unit tests pass fakes. */

export interface ImagesPort {
  pull(ref: string, opts?: { signal?: AbortSignal }): Promise<ImageRecord>
  resolve(ref: string): ImageRecord | undefined
  lowerDirs(image: ImageRecord): Promise<string[]>
}

export interface ExitStatusLike {
  exitCode: number | null
  signal: NodeJS.Signals | string | null
  oomKilled: boolean
  timedOut: boolean
  /** the monitor ended without recording an exit code (the data dir was full) */
  exitUnknown?: boolean
  usage: { wallMs: number; cpuUserMs: number; cpuSysMs: number; memoryPeakBytes: number }
}

export interface ContainerLike {
  readonly id: string
  start(): Promise<void>
  wait(opts?: { signal?: AbortSignal }): Promise<ExitStatusLike>
  kill(signal?: NodeJS.Signals): Promise<void>
  exec(cmd: string[], opts?: ExecOptionsLike): Promise<ExecResultLike>
  remove(): Promise<void>
  openStdin?(): StdinLike
  resize?(rows: number, cols: number): Promise<void>
}

/** runtime ExecOptions / ExecResult (see src/runtime/types.ts) */
export interface ExecOptionsLike {
  env?: Record<string, string>
  user?: string
  cwd?: string
  stdin?: Uint8Array | string
  timeoutMs?: number
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void | Promise<void>
  signal?: AbortSignal
  tty?: { rows: number; cols: number }
  onStart?: (io: { write(data: Uint8Array): Promise<void>; end(): void; resize(rows: number, cols: number): void }) => void
}
export interface ExecResultLike {
  exitCode: number | null
  signal?: string | null
  timedOut?: boolean
  stdout: string
  stderr: string
  truncated?: boolean
}

/** The write side of a job's stdin (runtime StdinWriter). */
export interface StdinLike {
  readonly closed: boolean
  readonly pending: number
  write(data: Uint8Array): Promise<void>
  close(): Promise<void>
  destroy(): void
}

/** The runtime's own input shape (built by container-spec.ts). */
export type ContainerSpecLike = ContainerSpec

export interface RuntimePort {
  create(spec: ContainerSpecLike): Promise<ContainerLike>
  /** After a daemon restart: the container (running or already exited) if it survived. */
  adopt(id: string, opts?: { start?: boolean }): Promise<ContainerLike | undefined>
  /** Ids of every container the runtime still holds. */
  list?(): Promise<string[]>
  /** The job's writable layer, kept across its attempts (absent: a fresh one per container). */
  layerDir?(jobId: string): string
  removeLayer?(jobId: string): Promise<void>
  updateHosts?(id: string, peers: HostEntry[]): Promise<void>
  removeNetwork?(n: BridgeNetwork): Promise<void>
}

export interface LogsPort {
  pathFor(jobId: string): string
  remove(jobId: string): Promise<void>
  /** The decoded offset just past the job's output so far (where the next attempt's starts). */
  end(jobId: string): Promise<number>
  /** Last `bytes` of combined output (for ?wait=true responses). */
  tailText?(jobId: string, bytes: number): Promise<string>
  /** Decoded bytes of the job's output dropped because the data dir's filesystem was full. */
  noSpaceLoss?(jobId: string): number | undefined
  /** The attempt's monitor wrote its last byte (its exit is known): stop watching the log. */
  writerDone?(jobId: string): void
}

/** The network side a job's start needs (networks.ts): its network for this container. */
export interface NetworksPort {
  attach(job: Job, containerId: string): Promise<NetworkSpec>
}

/** Why a kill happened, recorded as the job's reason and message (instead of plain `killed`). */
export interface KillReason {
  reason: string
  message: string
}

/** What a per-connection listener needs from the job service (listener.ts). */
export interface ConnectionJobs {
  /** a connection's job, counted on its listener in the same transaction */
  submit(spec: RunSpec, opts: { parentId: string }): Job
  get(id: string): Job | undefined
  /** resolves once the job is running, or settled without having run */
  started(id: string): Promise<Job>
  wait(id: string): Promise<Job>
  writeStdin(id: string, data: Uint8Array): Promise<void>
  closeStdin(id: string): Promise<void>
  kill(id: string, signal: NodeJS.Signals, why?: KillReason): Promise<Job>
  countRefused(listenerId: string): void
  /** remove the listener's settled connection jobs beyond the newest `keep` */
  pruneConnections(listenerId: string, keep: number): Promise<void>
}

/** A record of a job's output as a live follow yields it (logs layer). */
export interface FollowRecord {
  stream?: 'stdout' | 'stderr'
  data: Uint8Array
  dropped?: unknown
}

/** The logs layer's live follow (LogStore.follow). */
export interface FollowPort {
  follow(jobId: string, from: number, signal: AbortSignal, opts: {
    exited: () => Promise<{ exitCode: number | null; signal: string | null; state?: string; reason?: string | null }>
    coalesceBytes?: number
  }): AsyncIterable<FollowRecord | { exit: unknown }>
}

/** Per-connection listeners (listener.ts): a listener job's "container". */
export interface ListenersPort {
  open(job: Job, containerId: string): ContainerLike
}
