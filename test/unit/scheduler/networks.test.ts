import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import { silentLogger } from '../../../src/lib/log.js'
import type { HostEntry } from '../../../src/runtime/index.js'
import { JobRepo } from '../../../src/scheduler/job-repo.js'
import { NetworkRepo } from '../../../src/scheduler/network-repo.js'
import { NetworkService } from '../../../src/scheduler/networks.js'
import { parsePorts } from '../../../src/scheduler/publish.js'
import type { Job, RunSpec } from '../../../src/scheduler/types.js'

// The network service on real SQLite; the runtime and the host's port binds are
// fakes here (no root in unit tests): test/integration/network/ runs them for real.
const spec = (o: Partial<RunSpec> = {}): RunSpec => ({ image: 'x', env: {}, labels: {}, limits: {}, network: { mode: 'bridge' }, pull: 'missing', ...o })

describe('NetworkService', () => {
  let dir: string
  let close: () => void
  let jobs: JobRepo
  let events: EventBus
  let svc: NetworkService
  let hosts: Map<string, HostEntry[]>
  let bound: Set<string>
  let refuse: Set<number>
  let n = 0
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-net-'))
    const o = openDb(join(dir, 'state.db'))
    close = o.close
    jobs = new JobRepo(o.db)
    events = new EventBus()
    hosts = new Map()
    bound = new Set()
    refuse = new Set()
    svc = new NetworkService({
      repo: new NetworkRepo(o.db), events, log: silentLogger,
      runtime: { updateHosts: async (id, peers) => void hosts.set(id, peers) },
      config: { defaultBridge: 'skiff0', defaultSubnet: '10.77.0.0/29', pool: '10.78.0.0/23', portRange: [40000, 40002] },
      hostRoutes: () => [{ iface: 'docker0', dest: '10.78.0.0', mask: '255.255.255.0' }],
      linkExists: () => false,
      reserve: async (ip, port, proto) => {
        const k = `${ip}:${port}/${proto}`
        if (refuse.has(port)) throw Object.assign(new Error('EADDRINUSE'), { code: 'EADDRINUSE' })
        bound.add(k)
        return { close: () => bound.delete(k) }
      },
    })
    await svc.start()
  })
  afterEach(() => {
    svc.stop()
    close()
    rmSync(dir, { recursive: true, force: true })
  })
  const job = (o: Partial<RunSpec> = {}): Job => jobs.insert(`01JOB${String(n++).padStart(21, '0')}`, spec(o), new Date())

  it('the default network comes from the config; a job gets an address, keeps it across attempts, and peers learn its names', async () => {
    expect(svc.get('default')).toMatchObject({ bridge: 'skiff0', subnet: '10.77.0.0/29', gateway: '10.77.0.1' })
    const a = job({ name: 'web', network: { mode: 'bridge', aliases: ['www'] } })
    const na = await svc.attach(a, `${a.id}.1`)
    expect(na).toMatchObject({ mode: 'bridge', network: { name: 'default', bridge: 'skiff0', subnet: '10.77.0.0/29' }, ip: '10.77.0.2', ports: [], peers: [] })
    const b = job()
    const nb = await svc.attach(b, `${b.id}.1`)
    expect(nb).toMatchObject({ ip: '10.77.0.3', peers: [{ ip: '10.77.0.2', names: ['web', a.id.slice(-12).toLowerCase(), 'www'] }] })
    expect(hosts.get(`${a.id}.1`)).toEqual([{ ip: '10.77.0.3', names: [b.id.slice(-12).toLowerCase()] }])
    // the next attempt of a keeps its address
    expect(await svc.attach(a, `${a.id}.2`)).toMatchObject({ ip: '10.77.0.2' })
    // a ends: released, b forgets it; the next job gets the address after the last one (round robin)
    events.emit('job.final', a)
    await new Promise((r) => setTimeout(r, 0))
    expect(hosts.get(`${b.id}.1`)).toEqual([])
    const c = job()
    expect(await svc.attach(c, `${c.id}.1`)).toMatchObject({ ip: '10.77.0.4' })
  })

  it('a full network: NETWORK_FULL; an unknown one: NETWORK_NOT_FOUND', async () => {
    for (let i = 0; i < 5; i++) await svc.attach(job(), 'c')
    await expect(svc.attach(job(), 'c')).rejects.toMatchObject({ code: 'NETWORK_FULL' })
    await expect(svc.attach(job({ network: { mode: 'bridge', name: 'nope' } }), 'c')).rejects.toMatchObject({ code: 'NETWORK_NOT_FOUND' })
    expect(() => svc.check(spec({ network: { mode: 'bridge', name: 'nope' } }))).toThrow(expect.objectContaining({ code: 'NETWORK_NOT_FOUND', extra: expect.objectContaining({ field: 'network.name' }) }))
  })

  it('ports: fixed and free ones are allocated, reserved, persisted; the holder is named; a port taken outside skiff is skipped when free, an error when fixed', async () => {
    const a = job({ name: 'holder', ports: parsePorts(['8080:80', '81']) })
    const na = await svc.attach(a, 'a')
    expect(na.mode === 'bridge' && na.ports).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: expect.any(Number), containerPort: 81, protocol: 'tcp' }])
    expect(svc.ofJob(a)).toMatchObject({ mode: 'bridge', name: 'default', ip: '10.77.0.2', ports: [{ hostPort: 8080 }, { containerPort: 81 }] })
    expect(bound.size).toBe(2)
    await expect(svc.attach(job({ ports: parsePorts(['0.0.0.0:8080:80']) }), 'b')).rejects.toMatchObject({ code: 'PORT_IN_USE', message: expect.stringContaining('job holder') })
    // a free port some other program holds: skipped
    const auto = na.mode === 'bridge' ? na.ports[1]!.hostPort : 0
    const left = [40000, 40001, 40002].filter((p) => p !== auto)
    refuse.add(left[0]!)
    const c = job({ ports: parsePorts(['82']) })
    const nc = await svc.attach(c, 'c')
    expect(nc.mode === 'bridge' && nc.ports[0]!.hostPort).toBe(left[1])
    // a fixed one some other program holds: PORT_IN_USE, nothing kept
    refuse.add(9999)
    const d = job({ ports: parsePorts(['9999:80']) })
    await expect(svc.attach(d, 'd')).rejects.toMatchObject({ code: 'PORT_IN_USE' })
    expect(svc.ofJob(d).ports).toEqual([])
    // the range is used up
    await expect(svc.attach(job({ ports: parsePorts(['83']) }), 'e')).rejects.toMatchObject({ code: 'PORTS_EXHAUSTED' })
    events.emit('job.final', a)
    await new Promise((r) => setTimeout(r, 0))
    expect(svc.ofJob(a).ports).toEqual([])
    expect([...bound].some((k) => k.includes(':8080/'))).toBe(false)
  })

  it('at start, what jobs that ended while the daemon was down hold is released', async () => {
    const a = job({ ports: parsePorts(['8080:80']) })
    await svc.attach(a, 'a')
    jobs.transition(a.id, 'pulling', new Date())
    jobs.transition(a.id, 'failed', new Date(), { finishedAt: new Date() })
    await svc.start()
    expect(svc.ofJob(a)).toMatchObject({ ports: [] })
    expect(svc.get('default')!.endpoints).toEqual([])
  })

  it('user networks: a free /24 from the pool around the host\'s routes, conflicts named, in-use ones kept', async () => {
    const made = svc.create({ name: 'backend' })
    expect(made.subnet).toBe('10.78.1.0/24') // 10.78.0.0/24 is docker0's
    expect(made.bridge).toMatch(/^skb[0-9a-f]{8}$/)
    expect(() => svc.create({ name: 'backend' })).toThrow(expect.objectContaining({ code: 'NETWORK_EXISTS' }))
    expect(() => svc.create({ name: 'host' })).toThrow(expect.objectContaining({ code: 'NETWORK_EXISTS' }))
    expect(() => svc.create({ name: 'bad name' })).toThrow(expect.objectContaining({ code: 'INVALID_NETWORK_NAME' }))
    expect(() => svc.create({ name: 'x', subnet: '10.77.0.0/24' })).toThrow(expect.objectContaining({ code: 'NETWORK_SUBNET_CONFLICT', message: expect.stringContaining('network default') }))
    expect(() => svc.create({ name: 'y' })).toThrow(expect.objectContaining({ code: 'NETWORK_POOL_EXHAUSTED' }))
    const j = job({ network: { mode: 'bridge', name: 'backend' } })
    await svc.attach(j, 'j')
    await expect(svc.remove('backend')).rejects.toMatchObject({ code: 'NETWORK_IN_USE' })
    await expect(svc.remove('default')).rejects.toMatchObject({ code: 'NETWORK_PREDEFINED' })
    events.emit('job.final', j)
    await new Promise((r) => setTimeout(r, 0))
    await svc.remove('backend')
    expect(svc.get('backend')).toBeUndefined()
  })
})
