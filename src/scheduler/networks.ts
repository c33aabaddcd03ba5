import { existsSync } from 'node:fs'
import { randomBytes, randomInt } from 'node:crypto'
import { ulid } from 'ulid'
import type { EventBus } from '../events.js'
import { SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { portHolder, reservePort, type PortReservation } from '../lib/port-holder.js'
import type { BridgeNetwork, HostEntry, NetworkSpec } from '../runtime/index.js'
import { defaultHostname } from './container-spec.js'
import { allocateIp, formatCidr, freeSubnet, gatewayOf, parseCidr, subnetConflict, type Route } from './ipam.js'
import type { Endpoint, NetworkRecord, NetworkRepo, PortAllocation } from './network-repo.js'
import { allocatePorts, DEFAULT_PORT_RANGE } from './port-alloc.js'
import type { Job, RunSpec } from './types.js'

export const DEFAULT_NETWORK = 'default'
/** names that mean a mode, not a network (docker's predefined ones) */
const RESERVED_NAMES = ['none', 'host', 'bridge']
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export const networkNotFound = (name: string, field = 'network.name') => new SkiffError('not_found', 'NETWORK_NOT_FOUND', `network ${JSON.stringify(name)} not found`, { field })
const portInUse = (p: { hostIp: string; hostPort: number; protocol: string }, holder: string) =>
  new SkiffError('conflict', 'PORT_IN_USE', `ports: host port ${p.hostIp}:${p.hostPort}/${p.protocol} is in use by ${holder}`, { field: 'ports', detail: { ...p, holder } })

export interface NetworkConfig {
  /** the `default` network's bridge interface and subnet */
  defaultBridge: string
  defaultSubnet: string
  /** where user networks without a subnet get a /24 from */
  pool: string
  portRange?: [number, number]
}

export interface NetworkServiceDeps {
  repo: NetworkRepo
  /** the runtime's network calls (optional: fakes in unit tests) */
  runtime: { updateHosts?(id: string, peers: HostEntry[]): Promise<void>; removeNetwork?(n: BridgeNetwork): Promise<void> }
  events: EventBus
  log: Logger
  config: NetworkConfig
  /** the host's IPv4 routes (/proc/net/route), to keep subnets off networks that exist */
  hostRoutes: () => Route[]
  /** hold a host port while a job publishes it (lib/port-holder.ts; a fake in unit tests) */
  reserve?: (hostIp: string, port: number, proto: 'tcp' | 'udp') => Promise<PortReservation>
  /** does a network interface of that name exist (bridge names must be new) */
  linkExists?: (name: string) => boolean
  /** who else in skiff holds a host port (a per-connection listener), to name it in PORT_IN_USE */
  otherHolder?: (hostIp: string, port: number, proto: 'tcp' | 'udp') => string | undefined
}

export interface NetworkView {
  name: string
  id: string
  bridge: string
  subnet: string
  gateway: string
  labels: Record<string, string>
  createdAt: string
  endpoints: { jobId: string; name: string; ip: string; aliases: string[] }[]
}

export interface JobNetworkView {
  mode: RunSpec['network']['mode']
  name?: string
  ip?: string
  ports: { hostIp: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp' }[]
}

/** Networks and what jobs hold on them. Policy lives here (which address, which
 *  host port, who may have a name), persisted before it is acted on; the runtime
 *  only wires what it is told (runtime/network/). */
export class NetworkService {
  readonly #d: NetworkServiceDeps
  /** held host ports per job, by "ip:port/proto" */
  readonly #reservations = new Map<string, Map<string, PortReservation>>()
  /** last address handed out per network: the next job gets the one after (as host-local
   *  does), so an address released a moment ago, whose CNI teardown may still be running,
   *  is not handed out again at once */
  readonly #lastIp = new Map<string, string>()

  constructor(deps: NetworkServiceDeps) {
    this.#d = deps
    deps.events.on('job.final', (j) => void this.release(j.id))
    // A container created while a peer attached may have missed that peer's name
    // (its bundle did not exist yet): once it runs, the whole network is rewritten.
    deps.events.on('job.state', (j) => {
      if (j.state === 'running' && j.spec.network.mode === 'bridge') void this.#tellPeers(j.spec.network.name ?? DEFAULT_NETWORK)
    })
  }

  /** At daemon start: the default network as configured, then what jobs that ended
   *  while the daemon was down still hold; live jobs get their port reservations back. */
  async start(): Promise<void> {
    this.#ensureDefault()
    for (const id of this.#d.repo.stale()) await this.release(id)
    for (const p of this.#d.repo.ports()) await this.#hold(p.jobId, p).catch((err) => this.#d.log.warn({ err, job: p.jobId, port: p.hostPort }, 'could not re-reserve a published port'))
  }

  stop(): void {
    for (const rs of this.#reservations.values()) for (const r of rs.values()) r.close()
    this.#reservations.clear()
  }

  #ensureDefault(): void {
    const c = this.#d.config
    const cidr = parseCidr(c.defaultSubnet, 'defaultSubnet')
    const want = { bridge: c.defaultBridge, subnet: formatCidr(cidr), gateway: gatewayOf(cidr) }
    const have = this.#d.repo.get(DEFAULT_NETWORK)
    if (have && have.bridge === want.bridge && have.subnet === want.subnet) return
    if (have) {
      if (this.#d.repo.endpoints(DEFAULT_NETWORK).length) {
        this.#d.log.warn({ have: have.subnet, want: want.subnet }, 'default network config changed while jobs use it; keeping the old one until they end')
        return
      }
      this.#d.repo.delete(DEFAULT_NETWORK)
    }
    this.#d.repo.insert({ name: DEFAULT_NETWORK, id: ulid(), ...want, labels: {}, createdAt: new Date() })
  }

  // ---- networks -------------------------------------------------------------
  list(): NetworkView[] {
    return this.#d.repo.list().map((n) => this.#view(n))
  }

  get(name: string): NetworkView | undefined {
    const n = this.#d.repo.get(name)
    return n && this.#view(n)
  }

  mustGet(name: string): NetworkView {
    const v = this.get(name)
    if (!v) throw networkNotFound(name, 'name')
    return v
  }

  create(req: { name: string; subnet?: string; labels?: Record<string, string> }): NetworkView {
    if (!NAME.test(req.name)) throw new SkiffError('invalid_argument', 'INVALID_NETWORK_NAME', `name: ${JSON.stringify(req.name)} must match ${NAME.source}`, { field: 'name' })
    if (RESERVED_NAMES.includes(req.name) || req.name === DEFAULT_NETWORK)
      throw new SkiffError('conflict', 'NETWORK_EXISTS', `name: ${JSON.stringify(req.name)} is a predefined network`, { field: 'name' })
    if (this.#d.repo.get(req.name)) throw new SkiffError('conflict', 'NETWORK_EXISTS', `network ${JSON.stringify(req.name)} already exists`, { field: 'name' })
    const all = this.#d.repo.list()
    const ctx = { networks: all, routes: this.#d.hostRoutes(), ownBridges: all.map((n) => n.bridge) }
    let cidr
    if (req.subnet !== undefined) {
      cidr = parseCidr(req.subnet)
      const c = subnetConflict(cidr, ctx)
      if (c) throw new SkiffError('conflict', 'NETWORK_SUBNET_CONFLICT', `subnet: ${formatCidr(cidr)} overlaps ${c}`, { field: 'subnet' })
    } else {
      cidr = freeSubnet(parseCidr(this.#d.config.pool, 'networkPool'), 24, (c) => subnetConflict(c, ctx))
      if (!cidr) throw new SkiffError('resource_exhausted', 'NETWORK_POOL_EXHAUSTED', `no free /24 left in the network pool ${this.#d.config.pool}; give a subnet`, { field: 'subnet' })
    }
    const rec: NetworkRecord = { name: req.name, id: ulid(), bridge: this.#newBridgeName(all), subnet: formatCidr(cidr), gateway: gatewayOf(cidr), labels: req.labels ?? {}, createdAt: new Date() }
    this.#d.repo.insert(rec)
    this.#d.log.info({ network: rec.name, subnet: rec.subnet, bridge: rec.bridge }, 'network created')
    return this.#view(rec)
  }

  /** Remove a user network with no job on it, and its bridge and leases on the host. */
  async remove(name: string): Promise<void> {
    const n = this.#d.repo.get(name)
    if (!n) throw networkNotFound(name, 'name')
    if (name === DEFAULT_NETWORK) throw new SkiffError('conflict', 'NETWORK_PREDEFINED', `network ${name} is predefined and cannot be removed`, { field: 'name' })
    const holders = this.#d.repo.holders(name)
    if (holders.length) throw new SkiffError('conflict', 'NETWORK_IN_USE', `network ${name} is in use by ${holders.length} job(s): ${holders.slice(0, 5).join(', ')}`, { field: 'name', detail: { jobs: holders } })
    await this.#d.runtime.removeNetwork?.(toBridge(n))
    this.#d.repo.delete(name)
  }

  #newBridgeName(all: NetworkRecord[]): string {
    for (;;) {
      // skiff + 8 hex: ≤ 15 chars (IFNAMSIZ), random so two daemons on one host never share one
      const b = `skb${randomBytes(4).toString('hex')}`
      if (!all.some((n) => n.bridge === b) && !(this.#d.linkExists ?? linkExists)(b)) return b
    }
  }

  #view(n: NetworkRecord): NetworkView {
    const eps = this.#d.repo.endpoints(n.name)
    const names = this.#d.repo.jobNames(eps.map((e) => e.jobId))
    return {
      name: n.name, id: n.id, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway, labels: n.labels, createdAt: n.createdAt.toISOString(),
      endpoints: eps.map((e) => ({ jobId: e.jobId, name: names.get(e.jobId) ?? e.jobId, ip: e.ip, aliases: e.names })),
    }
  }

  // ---- jobs -----------------------------------------------------------------
  /** Before a request is accepted: its network exists. */
  check(spec: RunSpec): void {
    if (spec.network.mode === 'bridge' && !this.#d.repo.get(spec.network.name ?? DEFAULT_NETWORK)) throw networkNotFound(spec.network.name ?? DEFAULT_NETWORK)
  }

  /** The job publishing host port `port` (tcp) on `hostIp` (or on every interface, or asked about every interface). */
  portHolderOf(hostIp: string, port: number): string | undefined {
    const p = this.#d.repo.ports().find((a) => a.hostPort === port && a.protocol === 'tcp' && (a.hostIp === hostIp || a.hostIp === '0.0.0.0' || hostIp === '0.0.0.0'))
    if (!p) return undefined
    return `job ${this.#d.repo.jobNames([p.jobId]).get(p.jobId) ?? p.jobId}`
  }

  /** What the job's network is, for its view: its address and published ports. */
  ofJob(job: Job): JobNetworkView {
    const mode = job.spec.network.mode
    if (mode !== 'bridge') return { mode, ports: [] }
    const e = this.#d.repo.endpoint(job.id)
    const ports = this.#d.repo.ports(job.id).map(({ hostIp, hostPort, containerPort, protocol }) => ({ hostIp, hostPort, containerPort, protocol }))
    return { mode, name: job.spec.network.name ?? DEFAULT_NETWORK, ...(e ? { ip: e.ip } : {}), ports }
  }

  /** The network of a job's next container: its address and ports (the same across
   *  the job's attempts), recorded before the container exists; peers told of it. */
  async attach(job: Job, containerId: string): Promise<NetworkSpec> {
    const net = job.spec.network
    if (net.mode !== 'bridge') return { mode: net.mode }
    const name = net.name ?? DEFAULT_NETWORK
    const n = this.#d.repo.get(name)
    if (!n) throw networkNotFound(name)
    const cidr = parseCidr(n.subnet)
    let ep = this.#d.repo.endpoint(job.id)
    if (!ep) {
      const taken = new Set(this.#d.repo.endpoints(name).map((e) => e.ip))
      const ip = allocateIp(cidr, taken, this.#lastIp.get(name))
      if (!ip) throw new SkiffError('resource_exhausted', 'NETWORK_FULL', `network ${name} (${n.subnet}) has no free address left`, { field: 'network.name' })
      this.#lastIp.set(name, ip)
      ep = { jobId: job.id, network: name, ip, names: endpointNames(job), containerId }
    } else ep = { ...ep, containerId }
    const ports = await this.#ports(job, ep)
    const peers = this.#d.repo.endpoints(name).filter((e) => e.jobId !== job.id)
    await this.#tellPeers(name)
    return {
      mode: 'bridge',
      network: toBridge(n),
      ip: ep.ip,
      ports: ports.map(({ hostIp, hostPort, containerPort, protocol }) => ({ hostIp, hostPort, containerPort, protocol })),
      peers: peers.map(hostEntry),
    }
  }

  /** Record the endpoint and allocate + reserve the job's ports. A port some other
   *  program holds: asked for by number, PORT_IN_USE naming it; picked by skiff,
   *  another one (a few tries). */
  async #ports(job: Job, ep: Endpoint): Promise<PortAllocation[]> {
    const have = this.#d.repo.ports(job.id)
    if (have.length || !job.spec.ports?.length) {
      this.#d.repo.reserve(ep, [])
      for (const p of have) await this.#hold(job.id, p).catch(() => {})
      return have
    }
    const excluded: { hostIp: string; hostPort: number; protocol: 'tcp' | 'udp' }[] = []
    const [lo, hi] = this.#d.config.portRange ?? DEFAULT_PORT_RANGE
    for (let attempt = 0; ; attempt++) {
      const held = this.#d.repo.ports().filter((p) => p.jobId !== job.id)
      const a = allocatePorts(job.spec.ports, held, { range: [lo, hi], start: randomInt(lo, hi + 1), excluded })
      if (!a.ok) {
        if ('exhausted' in a) throw new SkiffError('resource_exhausted', 'PORTS_EXHAUSTED', `ports: no free host port left in ${lo}-${hi}`, { field: 'ports' })
        const holder = this.#d.repo.jobNames([a.holder.jobId]).get(a.holder.jobId)
        throw portInUse(a.request as { hostIp: string; hostPort: number; protocol: string }, holder ? `job ${holder}` : 'another program')
      }
      const rows = a.ports.map((p) => ({ jobId: job.id, ...p }))
      // persisted before anything is bound: a daemon killed now finds and frees them
      this.#d.repo.reserve(ep, rows)
      try {
        for (const p of rows) await this.#hold(job.id, p)
        for (const p of rows) if (p.hostIp === '0.0.0.0') this.#d.log.warn({ job: job.id, port: p.hostPort }, `job ${job.name ?? job.id} publishes port ${p.hostPort}/${p.protocol} on every interface (0.0.0.0)`)
        return rows
      } catch (e) {
        this.#unhold(job.id)
        this.#d.repo.releasePorts(job.id)
        const failed = (e as { port?: PortAllocation }).port
        const code = (e as { cause?: NodeJS.ErrnoException }).cause?.code
        const asked = failed && job.spec.ports.find((r) => r.hostPort === failed.hostPort && r.protocol === failed.protocol)
        if (!failed || asked || attempt >= 8 || code !== 'EADDRINUSE') {
          if (failed && code === 'EADDRINUSE') throw portInUse(failed, this.#d.otherHolder?.(failed.hostIp, failed.hostPort, failed.protocol) ?? portHolder(failed.hostPort, failed.protocol) ?? 'another program')
          throw new SkiffError('internal', 'PORT_RESERVE_FAILED', `ports: cannot bind ${failed ? `${failed.hostIp}:${failed.hostPort}/${failed.protocol}` : 'a host port'}: ${String((e as Error).message)}`, { cause: e })
        }
        excluded.push(failed)
      }
    }
  }

  async #hold(jobId: string, p: PortAllocation): Promise<void> {
    const held = this.#reservations.get(jobId) ?? new Map<string, PortReservation>()
    this.#reservations.set(jobId, held)
    const key = `${p.hostIp}:${p.hostPort}/${p.protocol}`
    if (held.has(key)) return
    try {
      held.set(key, await (this.#d.reserve ?? reservePort)(p.hostIp, p.hostPort, p.protocol))
    } catch (cause) {
      throw Object.assign(new Error(`bind ${p.hostIp}:${p.hostPort}/${p.protocol}: ${(cause as Error).message}`), { cause, port: p })
    }
  }

  #unhold(jobId: string): void {
    for (const r of this.#reservations.get(jobId)?.values() ?? []) r.close()
    this.#reservations.delete(jobId)
  }

  /** Everything a job held: its endpoint and ports (on job end, or at start for jobs
   *  that ended while the daemon was down). Peers forget its name. */
  async release(jobId: string): Promise<void> {
    this.#unhold(jobId)
    const ep = this.#d.repo.endpoint(jobId)
    this.#d.repo.release(jobId)
    if (ep) await this.#tellPeers(ep.network)
  }

  /** Rewrite /etc/hosts of every container on a network (resolvers re-read it on each lookup). */
  async #tellPeers(network: string): Promise<void> {
    const eps = this.#d.repo.endpoints(network)
    for (const e of eps) {
      if (!e.containerId) continue
      const peers = eps.filter((o) => o.jobId !== e.jobId).map(hostEntry)
      await this.#d.runtime.updateHosts?.(e.containerId, peers).catch((err) => this.#d.log.warn({ err, job: e.jobId }, 'could not update /etc/hosts'))
    }
  }
}

/** The names a job answers to on its network: its name, its hostname, its aliases (docker's set). */
export function endpointNames(job: Pick<Job, 'id' | 'spec'>): string[] {
  const s = job.spec
  const names = [s.name, s.hostname ?? defaultHostname(job.id), ...(s.network.aliases ?? [])].filter((x): x is string => !!x)
  return [...new Set(names)]
}

const hostEntry = (e: Endpoint): HostEntry => ({ ip: e.ip, names: e.names })
const toBridge = (n: NetworkRecord): BridgeNetwork => ({ name: n.name, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway })
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`)
