import type { DiskSupport } from './disk-quota.js'
import type { StdinWriter } from './stdin.js'

export interface MountRequest {
  source: string
  destination: string
  readonly?: boolean
  type?: 'bind' | 'tmpfs'
}

/** A bridge network, as data (its record lives above the runtime). */
export interface BridgeNetwork {
  /** the CNI network name: names its IPAM leases and its iptables comments */
  name: string
  /** the host's bridge interface (≤ 15 chars), made by the CNI bridge plugin on first use */
  bridge: string
  /** IPv4 CIDR, e.g. 10.77.0.0/16 */
  subnet: string
  gateway: string
}

export interface PortMapping {
  hostIp: string
  hostPort: number
  containerPort: number
  protocol: 'tcp' | 'udp'
}

/** A line of /etc/hosts: another container of the network, by its names. */
export interface HostEntry {
  ip: string
  names: string[]
}

/** How the container is networked. `none`: its own netns with only `lo`;
 *  `host`: the host's netns (and the host's /etc/resolv.conf); `bridge`: its own
 *  netns with a veth on the network's bridge, wired by CNI (bridge + host-local,
 *  portmap for published ports, firewall), outbound NAT. */
export type NetworkSpec =
  | { mode: 'none' }
  | { mode: 'host' }
  | {
      mode: 'bridge'
      network: BridgeNetwork
      /** the container's address, chosen above the runtime (host-local records the lease) */
      ip: string
      ports: PortMapping[]
      /** other containers of the network for /etc/hosts; kept current with Runtime.updateHosts */
      peers: HostEntry[]
    }

/** The runtime's input: plain data, already resolved above the runtime (the
 *  image's Entrypoint/Cmd/Env/WorkingDir/User merged with the request), already
 *  validated and in skiff units. Nothing in it is image- or job-shaped: the
 *  runtime never sees an ImageRecord, and `id` is only a container id. */
export interface ContainerSpec {
  /** container id ([A-Za-z0-9][A-Za-z0-9_.-]{0,127}, e.g. `<job>.<attempt>`): names the
   *  bundle dir, the cgroup and the runtime's state; not necessarily a job id */
  id: string
  rootfs: {
    /** image snapshot dirs, top layer first (as overlayfs wants) */
    lowerDirs: string[]
    /** where the writable layer (upper/ + work/) lives. Given: created if missing,
     *  reused if present, and left in place by remove() (the caller owns it, e.g.
     *  one per job across restarts). Absent: inside the bundle, gone with it. */
    layerDir?: string
    readonly?: boolean
  }
  process: {
    /** the final argv (argv[0] looked up in PATH by the OCI runtime) */
    args: string[]
    /** the final environment, KEY=VALUE; HOME is added from the user's passwd entry when absent (as runc does) */
    env: string[]
    cwd: string
    /** docker's forms ("name", "uid", "uid:gid", "name:group"; absent = root),
     *  resolved against the rootfs' /etc/passwd and /etc/group */
    user?: string
    /** data for stdin, then EOF (through a file bound into the container) */
    stdin?: Uint8Array
    /** keep stdin open for openStdin() (docker run -i); exclusive with `stdin` */
    openStdin?: boolean
    /** run `args` under a small init as PID 1 (docker run --init; see init.ts) */
    init?: boolean
    /** a pseudo-terminal as stdin/stdout/stderr (docker run -t): output is one stream (stdout) */
    terminal?: boolean
    /** the terminal's initial size */
    consoleSize?: { rows: number; cols: number }
  }
  hostname: string
  /** more names of the container in its own /etc/hosts (e.g. the job's name) */
  aliases?: string[]
  limits: { memoryBytes?: number; cpus?: number; pids?: number; timeoutMs?: number; /** bytes the writable layer may hold (limits.disk) */ diskBytes?: number }
  network: NetworkSpec
  mounts: MountRequest[]
  /** chosen by logs/, written by the monitor */
  logPath: string
  capAdd?: string[]
  capDrop?: string[]
}

export interface ExitStatus {
  exitCode: number | null
  signal: NodeJS.Signals | null
  oomKilled: boolean
  timedOut: boolean
  /** conmon ended without recording an exit code (it could not write it: the data dir was full) */
  exitUnknown?: boolean
  usage: { wallMs: number; cpuUserMs: number; cpuSysMs: number; memoryPeakBytes: number }
}

export interface ExecOptions {
  env?: Record<string, string>
  /** docker's forms, resolved against the container's /etc/passwd and /etc/group */
  user?: string
  cwd?: string
  stdin?: Uint8Array | string
  /** kill the exec'd process after this long; the result says timedOut */
  timeoutMs?: number
  /** stream output as it comes (then the result's stdout/stderr are empty); a returned
   *  promise pauses reading that stream until it settles (backpressure) */
  onOutput?: (stream: 'stdout' | 'stderr', data: Buffer) => void | Promise<void>
  /** kill the exec'd process (the caller went away) */
  signal?: AbortSignal
  /** a pseudo-terminal of this size as the command's stdin, stdout and stderr (docker
   *  exec -t, through the runtime's console socket): its output is one stream, stdout */
  tty?: { rows: number; cols: number }
  /** input while the command runs (docker exec -i over a socket): called once it has
   *  started, instead of `stdin` */
  onStart?: (io: ExecIo) => void
}

/** An exec's input side, given to onStart. */
export interface ExecIo {
  /** bytes into its stdin (a terminal's keystrokes with tty); resolves once taken */
  write(data: Uint8Array): Promise<void>
  /** EOF: closes a pipe; on a terminal, the EOF character (^D) as a terminal sends it */
  end(): void
  /** the terminal's new size (NOT_A_TERMINAL without tty) */
  resize(rows: number, cols: number): void
}

/** How an exec ended. A command that is not in the container or not executable
 *  rejects with EXECUTABLE_NOT_FOUND / EXECUTABLE_NOT_RUNNABLE instead (docker's 127/126). */
export interface ExecResult {
  exitCode: number | null
  signal?: NodeJS.Signals | null
  timedOut?: boolean
  stdout: string
  stderr: string
  /** a buffered stream passed EXEC_BUFFER_CAP and was cut */
  truncated?: boolean
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
  /** Set the size of a terminal container's pty (TIOCSWINSZ through conmon's ctl fifo). */
  resize(rows: number, cols: number): Promise<void>
  remove(): Promise<void>
}

export interface Runtime {
  readonly name: string
  /** rootfs + bundle + monitor (+ cgroup by the OCI runtime); rolls back on failure. */
  create(spec: ContainerSpec): Promise<Container>
  /** After a daemon restart: the container if its state survived (running or exited), else undefined. */
  adopt(id: string, opts?: { start?: boolean }): Promise<Container | undefined>
  list(): Promise<string[]>
  /** A writable layer that outlives containers (`rootfs.layerDir`), named by the
   *  caller's key (a job id: docker keeps a container's filesystem across its restarts). */
  layerDir(key: string): string
  /** Remove that layer; no container may be using it. Idempotent. */
  removeLayer(key: string): Promise<void>
  /** Whether `limits.diskBytes` can be honoured on the layers' filesystem, else why not (disk-quota.ts). */
  diskSupport(): DiskSupport
  /** Rewrite the peers part of a container's /etc/hosts, in place (the file is bind-mounted:
   *  its inode must stay). No-op for a container that is gone. */
  updateHosts(id: string, peers: HostEntry[]): Promise<void>
  /** A network nobody uses any more: its bridge and its IPAM leases go. */
  removeNetwork(n: BridgeNetwork): Promise<void>
  close(): void
}
