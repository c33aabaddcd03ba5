import { connect } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'
import { networkTraces, removeBridge, testNetworkEnv } from '../../helpers/net.js'

// issue #10 acceptance, through the real daemon, crun and CNI. Traffic only to
// 127.0.0.0/8 and to addresses inside the networks this file made.
const net = testNetworkEnv()
const daemon = useBusyboxDaemon({ env: net.env })
const made: string[] = [net.bridge]
afterAll(() => {
  for (const b of made) removeBridge(b)
})

const HTTPD = (text: string) => `mkdir -p /tmp/w && echo ${text} > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w`
/** a loop, not wget -T: busybox-static's wget crashes on -T */
const fetchLoop = (url: string, tries = 100) => `for i in $(seq ${tries}); do wget -q -O- ${url} 2>/dev/null && exit 0; usleep 50000; done; echo unreachable; exit 1`
const running = async (id: string) => {
  for (let i = 0; i < 400; i++) {
    const j = (await daemon().api('GET', `/jobs/${id}`)).json
    if (j.state === 'running') return j
    if (!['queued', 'pulling', 'starting'].includes(j.state)) throw new Error(`job ${id} is ${j.state}: ${j.message}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`job ${id} did not start`)
}
const tcpAnswers = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host, port })
    s.on('connect', () => (s.destroy(), resolve(true)))
    s.on('error', () => resolve(false))
  })
const httpGet = async (port: number, host = '127.0.0.1') => {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://${host}:${port}/`)
      return await r.text()
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`nothing answers on ${host}:${port}`)
}

describe('bridge networks, published ports, names', () => {
  it('httpd published on 127.0.0.1 answers from the host; a job on the same network fetches it by name; a job on network none cannot', async () => {
    const d = daemon()
    const web = (await d.api('POST', '/run', { image: 'busybox', name: `web-${process.pid}`, ports: ['80'], cmd: HTTPD('hello-from-web') })).json
    expect(web.network).toMatchObject({ mode: 'bridge', name: 'default' })
    const j = await running(web.id)
    expect(j.network.ip).toMatch(new RegExp(`^${net.subnet.prefix.replace(/\./g, '\\.')}\\.\\d+$`))
    const [p] = j.network.ports
    expect(p).toMatchObject({ hostIp: '127.0.0.1', containerPort: 80, protocol: 'tcp' })
    expect(await httpGet(p.hostPort)).toBe('hello-from-web\n')
    // bound on 127.0.0.1 only: another loopback address of the host gets nothing
    expect(await tcpAnswers('127.0.0.2', p.hostPort)).toBe(false)

    const peer = await d.api('POST', '/run?wait=true', { image: 'busybox', network: { mode: 'bridge' }, cmd: fetchLoop(`http://web-${process.pid}:80/`) })
    expect(peer.json, peer.text).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'hello-from-web\n' })
    const none = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: fetchLoop(`http://${j.network.ip}:80/`, 5) })
    expect(none.json).toMatchObject({ exitCode: 1, stdout: 'unreachable\n' })

    await d.api('POST', `/jobs/${web.id}/kill`)
    const done = (await d.api('POST', `/jobs/${web.id}/wait`)).json
    expect(done.state).toBe('killed')
    // the port is released with the job
    expect((await d.api('GET', `/jobs/${web.id}`)).json.network.ports).toEqual([])
  })

  it('a fixed host port taken by a running job: PORT_IN_USE naming it; 0.0.0.0 only when asked', async () => {
    const d = daemon()
    const a = (await d.api('POST', '/run', { image: 'busybox', name: `holder-${process.pid}`, ports: ['0.0.0.0::80'], cmd: HTTPD('a') })).json
    const ja = await running(a.id)
    const port = ja.network.ports[0].hostPort
    expect(ja.network.ports[0].hostIp).toBe('0.0.0.0')
    expect(await httpGet(port, '127.0.0.2')).toBe('a\n')
    const b = await d.api('POST', '/run?wait=true', { image: 'busybox', ports: [`127.0.0.1:${port}:80`], cmd: 'true' })
    expect(b.json).toMatchObject({ state: 'failed', reason: 'PORT_IN_USE' })
    expect(b.json.message).toContain(`holder-${process.pid}`)
    await d.api('POST', `/jobs/${a.id}/kill`)
    await d.api('POST', `/jobs/${a.id}/wait`)
  })

  it('bad requests are 400s naming the field, before any job exists', async () => {
    const d = daemon()
    for (const [body, field] of [
      [{ ports: ['80:abc'] }, 'ports[0]'],
      [{ ports: ['[::1]:80:80'] }, 'ports[0]'],
      [{ network: { mode: 'none' }, ports: ['80'] }, 'ports'],
      [{ network: { mode: 'host', name: 'x' } }, 'network.name'],
    ] as const) {
      const r = await d.api('POST', '/run', { image: 'busybox', cmd: 'true', ...body })
      expect(r.status, r.text).toBe(400)
      expect(r.json.error.field).toBe(field)
    }
    const r = await d.api('POST', '/run', { image: 'busybox', cmd: 'true', network: { name: 'no-such-net' } })
    expect(r.status).toBe(404)
    expect(r.json.error.code).toBe('NETWORK_NOT_FOUND')
  })

  it('user networks: create, inspect, list; jobs resolve each other by name and alias; a network in use cannot go; removal takes its bridge', async () => {
    const d = daemon()
    const name = `n${process.pid}`
    const created = await d.api('POST', '/networks', { name })
    expect(created.status, created.text).toBe(201)
    expect(created.json.subnet.startsWith(net.poolPrefix)).toBe(true)
    made.push(created.json.bridge)
    expect((await d.api('POST', '/networks', { name })).json.error.code).toBe('NETWORK_EXISTS')
    expect((await d.api('POST', '/networks', { name: `${name}b`, subnet: created.json.subnet })).json.error.code).toBe('NETWORK_SUBNET_CONFLICT')
    const db = (await d.api('POST', '/run', { image: 'busybox', name: `db-${process.pid}`, network: { name, aliases: ['database'] }, cmd: HTTPD('from-db') })).json
    await running(db.id)
    const client = await d.api('POST', '/run?wait=true', { image: 'busybox', network: { name }, cmd: `(${fetchLoop('http://database:80/')}) && grep -c database /etc/hosts` })
    expect(client.json, client.text).toMatchObject({ exitCode: 0, stdout: 'from-db\n1\n' })
    const inspect = (await d.api('GET', `/networks/${name}`)).json
    expect(inspect.endpoints).toEqual([expect.objectContaining({ jobId: db.id, name: `db-${process.pid}`, aliases: expect.arrayContaining(['database', `db-${process.pid}`]) })])
    expect((await d.api('GET', '/networks')).json.items.map((n: { name: string }) => n.name)).toEqual(expect.arrayContaining(['default', name]))
    const busy = await d.api('DELETE', `/networks/${name}`)
    expect(busy.status).toBe(409)
    expect(busy.json.error.code).toBe('NETWORK_IN_USE')
    await d.api('POST', `/jobs/${db.id}/kill`)
    await d.api('POST', `/jobs/${db.id}/wait`)
    // teardown runs after the exit is recorded: wait for it to be gone
    for (let i = 0; i < 200 && (await d.api('DELETE', `/networks/${name}`)).status !== 204; i++) await new Promise((r) => setTimeout(r, 50))
    expect((await d.api('GET', `/networks/${name}`)).status).toBe(404)
    expect(networkTraces({ bridge: created.json.bridge, prefix: created.json.subnet.split('.').slice(0, 3).join('.') })).toEqual({ links: [], rules: [] })
    expect((await d.api('DELETE', '/networks/default')).json.error.code).toBe('NETWORK_PREDEFINED')
  })

  it('nothing is left behind: no veth on the bridge, no iptables rule of the subnet, no lease', async () => {
    const d = daemon()
    // every job above has ended; teardown follows each exit
    const { readdirSync, existsSync } = await import('node:fs')
    let t = networkTraces({ bridge: net.bridge, prefix: net.subnet.prefix })
    for (let i = 0; i < 200 && (t.links.length > 1 || t.rules.length || readdirSync(`${d.dataDir}/runtime/netns`).length); i++) {
      await new Promise((r) => setTimeout(r, 50))
      t = networkTraces({ bridge: net.bridge, prefix: net.subnet.prefix })
    }
    expect(t.links.filter((l) => l !== net.bridge)).toEqual([])
    expect(t.rules).toEqual([])
    const ipam = `${d.dataDir}/runtime/cni/ipam/default`
    expect(existsSync(ipam) ? readdirSync(ipam).filter((f) => /^\d/.test(f)) : []).toEqual([])
    expect(readdirSync(`${d.dataDir}/runtime/netns`)).toEqual([])
  })
})
