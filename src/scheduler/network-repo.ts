import { and, eq, inArray, notInArray } from 'drizzle-orm'
import type { Db } from '../db/open.js'
import { jobs, networkEndpoints, networks, portAllocations } from '../db/schema.js'
import { FINAL_STATES } from './job-state.js'

export interface NetworkRecord {
  name: string
  id: string
  bridge: string
  subnet: string
  gateway: string
  labels: Record<string, string>
  createdAt: Date
}

export interface Endpoint {
  jobId: string
  network: string
  ip: string
  names: string[]
  containerId: string | null
}

export interface PortAllocation {
  jobId: string
  hostIp: string
  hostPort: number
  protocol: 'tcp' | 'udp'
  containerPort: number
}

const toNetwork = (r: typeof networks.$inferSelect): NetworkRecord => ({ ...r, labels: JSON.parse(r.labels) as Record<string, string> })
const toEndpoint = (r: typeof networkEndpoints.$inferSelect): Endpoint => ({ ...r, names: JSON.parse(r.names) as string[] })
const toPort = (r: typeof portAllocations.$inferSelect): PortAllocation => ({ ...r, protocol: r.protocol as 'tcp' | 'udp' })

/** Every SQL statement about networks, endpoints and published ports (sync). */
export class NetworkRepo {
  constructor(private readonly db: Db) {}

  list(): NetworkRecord[] {
    return this.db.select().from(networks).orderBy(networks.createdAt).all().map(toNetwork)
  }

  get(name: string): NetworkRecord | undefined {
    const r = this.db.select().from(networks).where(eq(networks.name, name)).get()
    return r && toNetwork(r)
  }

  insert(n: NetworkRecord): void {
    this.db.insert(networks).values({ ...n, labels: JSON.stringify(n.labels) }).run()
  }

  delete(name: string): void {
    this.db.delete(networks).where(eq(networks.name, name)).run()
  }

  endpoint(jobId: string): Endpoint | undefined {
    const r = this.db.select().from(networkEndpoints).where(eq(networkEndpoints.jobId, jobId)).get()
    return r && toEndpoint(r)
  }

  endpoints(network?: string): Endpoint[] {
    const q = this.db.select().from(networkEndpoints)
    return (network ? q.where(eq(networkEndpoints.network, network)) : q).all().map(toEndpoint)
  }

  /** An endpoint and its ports in one transaction: both are recorded, or neither. */
  reserve(e: Endpoint | undefined, ports: PortAllocation[]): void {
    this.db.transaction((tx) => {
      if (e) tx.insert(networkEndpoints).values({ ...e, names: JSON.stringify(e.names) }).onConflictDoUpdate({ target: networkEndpoints.jobId, set: { containerId: e.containerId } }).run()
      for (const p of ports) tx.insert(portAllocations).values(p).run()
    })
  }

  setContainer(jobId: string, containerId: string | null): void {
    this.db.update(networkEndpoints).set({ containerId }).where(eq(networkEndpoints.jobId, jobId)).run()
  }

  ports(jobId?: string): PortAllocation[] {
    const q = this.db.select().from(portAllocations)
    return (jobId ? q.where(eq(portAllocations.jobId, jobId)) : q).all().map(toPort)
  }

  releasePorts(jobId: string): void {
    this.db.delete(portAllocations).where(eq(portAllocations.jobId, jobId)).run()
  }

  /** Release what a job holds: its endpoint and its ports. */
  release(jobId: string): void {
    this.db.transaction((tx) => {
      tx.delete(networkEndpoints).where(eq(networkEndpoints.jobId, jobId)).run()
      tx.delete(portAllocations).where(eq(portAllocations.jobId, jobId)).run()
    })
  }

  /** Job ids holding an endpoint or a port although their job has ended (the daemon
   *  died before it could release them). */
  stale(): string[] {
    const live = this.db.select({ id: jobs.id }).from(jobs).where(notInArray(jobs.state, [...FINAL_STATES]))
    const a = this.db.selectDistinct({ id: networkEndpoints.jobId }).from(networkEndpoints).where(notInArray(networkEndpoints.jobId, live)).all()
    const b = this.db.selectDistinct({ id: portAllocations.jobId }).from(portAllocations).where(notInArray(portAllocations.jobId, live)).all()
    return [...new Set([...a, ...b].map((r) => r.id))]
  }

  /** Names of the live jobs holding endpoints on a network. */
  holders(network: string): string[] {
    return this.db
      .select({ id: networkEndpoints.jobId, name: jobs.name })
      .from(networkEndpoints)
      .innerJoin(jobs, eq(jobs.id, networkEndpoints.jobId))
      .where(and(eq(networkEndpoints.network, network), notInArray(jobs.state, [...FINAL_STATES])))
      .all()
      .map((r) => r.name ?? r.id)
  }

  jobNames(ids: string[]): Map<string, string> {
    if (!ids.length) return new Map()
    return new Map(this.db.select({ id: jobs.id, name: jobs.name }).from(jobs).where(inArray(jobs.id, ids)).all().map((r) => [r.id, r.name ?? r.id]))
  }
}
