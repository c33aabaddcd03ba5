import type { ImageRecord } from '../images/types.js'
import type { StdinWriter } from './stdin.js'

export interface MountRequest {
  source: string
  destination: string
  readonly?: boolean
  type?: 'bind' | 'tmpfs'
}

/** Already validated, already in skiff units. */
export interface ContainerSpec {
  id: string // = job id
  image: ImageRecord
  lowerDirs: string[] // top layer first
  process: {
    entrypoint?: string[]
    cmd?: string[]
    env: Record<string, string>
    cwd?: string
    user?: string
    /** data for stdin, then EOF (through a file bound into the container) */
    stdin?: Uint8Array
    /** keep stdin open for openStdin() (docker run -i); exclusive with `stdin` */
    openStdin?: boolean
  }
  limits: { memoryBytes?: number; cpus?: number; pids?: number; timeoutMs?: number }
  network: { mode: 'none' | 'host' | 'bridge'; ports: unknown[] }
  mounts: MountRequest[]
  logPath: string // chosen by logs/, written by the monitor
  hostname?: string
  readonlyRootfs?: boolean
  capAdd?: string[]
  capDrop?: string[]
}

export interface ExitStatus {
  exitCode: number | null
  signal: NodeJS.Signals | null
  oomKilled: boolean
  timedOut: boolean
  usage: { wallMs: number; cpuUserMs: number; cpuSysMs: number; memoryPeakBytes: number }
}

export interface ExecOptions {
  env?: Record<string, string>
  user?: string
  cwd?: string
  stdin?: Uint8Array | string
  timeoutMs?: number
}

export interface ExecResult {
  exitCode: number | null
  stdout: string
  stderr: string
}

/** A created container. Lifecycle: create → start → wait → remove. `remove` is
 *  idempotent and may run while the container still runs (it kills it first). */
export interface Container {
  readonly id: string
  readonly pid: number
  start(): Promise<void>
  wait(opts?: { signal?: AbortSignal }): Promise<ExitStatus>
  kill(signal?: NodeJS.Signals): Promise<void>
  exec(cmd: string[], opts?: ExecOptions): Promise<ExecResult>
  /** Connect to the stdin of a container created with process.openStdin. One
   *  writer at a time: closing it gives the job EOF. */
  openStdin(): StdinWriter
  remove(): Promise<void>
}

export interface Runtime {
  readonly name: string
  /** rootfs + bundle + monitor (+ cgroup by the OCI runtime); rolls back on failure. */
  create(spec: ContainerSpec): Promise<Container>
  /** After a daemon restart: the container if its state survived (running or exited), else undefined. */
  adopt(id: string, opts?: { start?: boolean }): Promise<Container | undefined>
  list(): Promise<string[]>
  close(): void
}
