import { createServer, type Server, type Socket } from 'node:net'
import type { Clock } from '../lib/clock.js'
import { SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { portHolder } from '../lib/port-holder.js'
import { bridge } from './connection.js'
import { admitConnection, connectionSpec, DEFAULT_KEEP_CONNECTIONS } from './per-connection.js'
import type { ConnectionJobs, ContainerLike, ExitStatusLike, FollowPort, ListenersPort } from './ports.js'
import type { Job, ListenSpec, RunSpec } from './types.js'

export const listenPortInUse = (l: { hostIp: string; port: number }, holder: string) =>
  new SkiffError('conflict', 'PORT_IN_USE', `listen.port: host port ${l.hostIp}:${l.port}/tcp is in use by ${holder}`, { field: 'listen.port', detail: { hostIp: l.hostIp, hostPort: l.port, holder } })

export interface ListenerServiceDeps {
  logs: FollowPort
  clock: Clock
  log: Logger
  /** After a connection's output is sent and its socket ended, how long the peer has to close (default 10 s). */
  lingerMs?: number
  /** who else in skiff holds a host port (a job publishing it), to name it in PORT_IN_USE */
  otherHolder?: (hostIp: string, port: number) => string | undefined
}

/**
 * Per-connection services (RunSpec.listen): the listener job's attempt opens a
 * TCP listener in the daemon instead of a container; every accepted connection
 * becomes a child job through the normal submit → dispatch → attempt path
 * (so admission, limits, logs, accounting and crash recovery are those of any
 * job), bridged to the socket by connection.ts. The listener is what the
 * supervisor holds as the attempt's container: stop/kill close it and kill
 * its connections; its wait() resolves once they have all settled.
 */
export class ListenerService implements ListenersPort {
  #jobs: ConnectionJobs | undefined
  readonly #open = new Map<string, Listener>()

  constructor(private readonly d: ListenerServiceDeps) {}

  /** The job service, set once it exists (it holds this service too). */
  bind(jobs: ConnectionJobs): void {
    this.#jobs = jobs
  }

  open(job: Job, containerId: string): ContainerLike {
    if (!this.#jobs) throw new Error('ListenerService: bind() the job service first')
    if (!job.spec.listen) throw new Error(`job ${job.id} has no listen spec`)
    const l = new Listener(containerId, job, job.spec.listen, { ...this.d, jobs: this.#jobs }, () => {
      if (this.#open.get(job.id) === l) this.#open.delete(job.id)
    })
    this.#open.set(job.id, l)
    return l
  }

  /** Before a job exists: its listen port is not another listener's. (A port
   *  another program holds fails the listener's start with the same code.) */
  check(spec: RunSpec, self?: string): void {
    const want = spec.listen
    if (!want) return
    for (const [jobId, l] of this.#open) {
      if (jobId === self || l.closing) continue
      const same = l.spec.port === want.port && (l.spec.hostIp === want.hostIp || l.spec.hostIp === '0.0.0.0' || want.hostIp === '0.0.0.0')
      if (same) throw listenPortInUse(want, `job ${l.job.name ?? jobId}`)
    }
    const other = this.d.otherHolder?.(want.hostIp, want.port)
    if (other) throw listenPortInUse(want, other)
  }

  /** The listener job holding tcp `port` on `hostIp` (or on every interface), for the other side's PORT_IN_USE. */
  holderOf(hostIp: string, port: number): string | undefined {
    for (const [jobId, l] of this.#open) {
      if (l.closing || l.spec.port !== port) continue
      if (l.spec.hostIp === hostIp || l.spec.hostIp === '0.0.0.0' || hostIp === '0.0.0.0') return `job ${l.job.name ?? jobId}`
    }
    return undefined
  }

  /** The daemon stops: listeners close with it (their jobs stay running; the next daemon re-opens them). */
  shutdown(): void {
    for (const l of this.#open.values()) l.abandon()
    this.#open.clear()
  }
}

type ListenerDeps = ListenerServiceDeps & { jobs: ConnectionJobs }

class Listener implements ContainerLike {
  readonly #server: Server
  /** connection jobs not settled yet, and their sockets */
  readonly #conns = new Map<string, Socket>()
  #closing = false
  #abandoned = false
  #startedAt = 0
  #resolve!: (e: ExitStatusLike) => void
  readonly #done = new Promise<ExitStatusLike>((r) => (this.#resolve = r))

  constructor(
    readonly id: string,
    readonly job: Job,
    readonly spec: ListenSpec,
    private readonly d: ListenerDeps,
    private readonly onGone: () => void,
  ) {
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.#accept(s))
  }

  get closing(): boolean {
    return this.#closing
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        this.onGone()
        reject(e.code === 'EADDRINUSE' ? listenPortInUse(this.spec, this.d.otherHolder?.(this.spec.hostIp, this.spec.port) ?? portHolder(this.spec.port, 'tcp') ?? 'another program')
          : new SkiffError('failed_precondition', 'LISTEN_FAILED', `listen: cannot listen on ${this.spec.hostIp}:${this.spec.port}: ${e.message}`, { field: 'listen', cause: e }))
      }
      this.#server.once('error', onError)
      this.#server.listen({ host: this.spec.hostIp, port: this.spec.port, exclusive: true, backlog: 511 }, () => {
        this.#server.off('error', onError)
        this.#server.on('error', (err) => this.d.log.warn({ err, job: this.job.id }, 'listener error'))
        this.#startedAt = this.d.clock.now().getTime()
        if (this.spec.hostIp === '0.0.0.0') this.d.log.warn({ job: this.job.id, port: this.spec.port }, 'per-connection service listens on every interface (0.0.0.0)')
        resolve()
      })
    })
  }

  wait(): Promise<ExitStatusLike> {
    return this.#done
  }

  /** Any signal closes the listener and kills its connections' jobs. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    this.#server.close()
    this.onGone()
    const ids = [...this.#conns.keys()]
    await Promise.all(ids.map((id) => this.d.jobs.kill(id, 'SIGKILL', { reason: 'listener-closed', message: `the listener ${this.job.id} was stopped or killed` }).catch(() => {})))
    await Promise.all(ids.map((id) => this.d.jobs.wait(id).catch(() => {})))
    const wallMs = this.#startedAt ? this.d.clock.now().getTime() - this.#startedAt : 0
    this.#resolve({ exitCode: null, signal, oomKilled: false, timedOut: false, usage: { wallMs, cpuUserMs: 0, cpuSysMs: 0, memoryPeakBytes: 0 } })
  }

  /** Close without settling anything (daemon shutdown): the sockets go with the process. */
  abandon(): void {
    this.#closing = true
    this.#abandoned = true
    this.#server.close()
    for (const s of this.#conns.values()) s.destroy()
  }

  exec(): never {
    throw new SkiffError('conflict', 'NOT_A_CONTAINER', `job ${this.job.id} is a per-connection listener: exec into one of its connections (GET /jobs?parent=${this.job.id})`)
  }

  async remove(): Promise<void> {
    this.#server.close()
  }

  #accept(sock: Socket): void {
    const a = admitConnection({ active: this.#conns.size, maxConnections: this.spec.maxConnections, closing: this.#closing })
    if (!a.accept) return this.#refuse(sock, a.reason)
    let child: Job
    try {
      child = this.d.jobs.submit(connectionSpec(this.job.spec, this.job.id), { parentId: this.job.id })
    } catch (err) {
      this.d.log.warn({ err, job: this.job.id }, 'connection refused: its job could not be made')
      return this.#refuse(sock, (err as SkiffError).code ?? 'error')
    }
    this.#conns.set(child.id, sock)
    // the slot is the job's: free once it has settled, whatever the socket does
    void this.d.jobs.wait(child.id).finally(() => {
      this.#conns.delete(child.id)
      // after its teardown has started; pruning waits for that itself
      void this.d.jobs.pruneConnections(this.job.id, this.spec.keep ?? DEFAULT_KEEP_CONNECTIONS).catch(() => {})
    })
    void bridge(sock, child.id, { ...this.d, abandoned: () => this.#abandoned }).catch((err) => this.d.log.warn({ err, job: child.id }, 'connection bridge failed'))
  }

  #refuse(sock: Socket, reason: string): void {
    this.d.log.info({ job: this.job.id, reason, peer: sock.remoteAddress }, 'connection refused')
    try {
      this.d.jobs.countRefused(this.job.id)
    } catch (err) {
      this.d.log.warn({ err, job: this.job.id }, 'could not count a refused connection')
    }
    // a reset, not a FIN: the client learns at once that nobody will answer
    sock.resetAndDestroy()
  }
}
