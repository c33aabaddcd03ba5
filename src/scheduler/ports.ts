import type { ImageRecord } from '../images/types.js'
import type { Job } from './types.js'
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
}

/** The network side a job's start needs (networks.ts): its network for this container. */
export interface NetworksPort {
  attach(job: Job, containerId: string): Promise<NetworkSpec>
}
