import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeBusyboxRootfs } from '../../contract/runtime-driver.contract.js'
import { createRuntime, networkFindings, type ContainerSpec, type Runtime } from '../../../src/runtime/index.js'
import { networkTraces, removeBridge, testBridge, testSubnet } from '../../helpers/net.js'

// The runtime's bridge step for real: netns, CNI bridge + host-local + firewall
// (+ portmap), traffic only inside the test's own subnet and on 127.0.0.0/8.
// (busybox-static 1.35's wget crashes with -T: no timeouts on wget here)
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
let dir: string
let rootfs: string
let rt: Runtime
const net = { ...testSubnet(), bridge: testBridge() }
const network = { name: `t-${net.bridge}`, bridge: net.bridge, subnet: net.subnet, gateway: net.gateway }
let n = 0

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-rtnet-'))
  rootfs = join(dir, 'busybox')
  makeBusyboxRootfs(rootfs)
  rt = createRuntime({ root: join(dir, 'rt') })
})
afterAll(async () => {
  for (const id of rt ? await rt.list() : []) await (await rt.adopt(id).catch(() => undefined))?.remove().catch(() => {})
  rt?.close()
  removeBridge(net.bridge)
  const left = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir))
  for (const m of left.reverse()) execFileSync('umount', ['-l', m!])
  rmSync(dir, { recursive: true, force: true })
})

const spec = (args: string[], ip: string, o: Partial<ContainerSpec> = {}): ContainerSpec => {
  const id = `nt${process.pid}x${n++}`
  return {
    id, rootfs: { lowerDirs: [rootfs] }, process: { args, env: [PATH], cwd: '/' }, hostname: id, limits: {},
    network: { mode: 'bridge', network, ip, ports: [], peers: [] }, mounts: [], logPath: join(dir, `${id}.log`), ...o,
  }
}
const out = (logPath: string) => readFileSync(logPath, 'utf8').split('\n').map((l) => /^\S+ (?:stdout|stderr) [FP] (.*)$/.exec(l)?.[1]).filter((l) => l !== undefined).join('\n')

describe('runtime: bridge network through CNI', () => {
  it('a container gets its address, a default route via the gateway and lo; two containers talk by name; teardown leaves nothing', async () => {
    const ipA = `${net.prefix}.10`
    const ipB = `${net.prefix}.11`
    const a = spec(['sh', '-c', 'mkdir /tmp/w; echo served-by-a > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w'], ipA, { hostname: 'web' })
    const ca = await rt.create(a)
    await ca.start()
    const b = spec(['sh', '-c', 'ip -o -4 addr show eth0 | grep -o "inet [0-9./]*"; ip route | grep default; for i in $(seq 50); do wget -q -O- http://web:80/ 2>/dev/null && break; usleep 100000; done; echo done'], ipB, {
      network: { mode: 'bridge', network, ip: ipB, ports: [], peers: [{ ip: ipA, names: ['web'] }] },
    })
    const cb = await rt.create(b)
    await cb.start()
    expect(await cb.wait()).toMatchObject({ exitCode: 0 })
    expect(out(b.logPath)).toBe(`inet ${ipB}/24\ndefault via ${net.gateway} dev eth0 \nserved-by-a\ndone`)
    // the host reaches the container inside the test's own subnet
    expect(execFileSync('busybox', ['wget', '-q', '-O-', `http://${ipA}:80/`], { encoding: 'utf8' })).toBe('served-by-a\n')
    expect(readdirSync(join(dir, 'rt', 'cni', 'ipam', network.name)).sort()).toEqual(expect.arrayContaining([ipA, ipB]))
    await cb.remove()
    await ca.kill()
    await ca.wait()
    await ca.remove()
    expect(readdirSync(join(dir, 'rt', 'cni', 'ipam', network.name)).filter((f) => f.startsWith(net.prefix))).toEqual([])
    expect(readdirSync(join(dir, 'rt', 'netns'))).toEqual([])
    const t = networkTraces({ bridge: net.bridge, prefix: net.prefix, ids: [a.id, b.id] })
    expect(t.links).toEqual([net.bridge]) // the bridge itself stays until the network is removed; no veth
    expect(t.rules).toEqual([])
  })

  it('updateHosts rewrites the peers of a running container in place', async () => {
    const s = spec(['sh', '-c', 'while ! grep -q newpeer /etc/hosts; do usleep 20000; done; grep newpeer /etc/hosts'], `${net.prefix}.20`)
    const c = await rt.create(s)
    await c.start()
    await rt.updateHosts(s.id, [{ ip: `${net.prefix}.21`, names: ['newpeer', 'alias'] }])
    expect(await c.wait()).toMatchObject({ exitCode: 0 })
    expect(out(s.logPath)).toBe(`${net.prefix}.21\tnewpeer alias`)
    await c.remove()
  })

  it('skiff doctor\'s CNI CHECK passes for a wired container and names one whose wiring was broken', async () => {
    const s = spec(['sleep', '100'], `${net.prefix}.40`)
    const c = await rt.create(s)
    await c.start()
    const ok = (await networkFindings(join(dir, 'rt'))).filter((f) => f.message.includes(s.id))
    expect(ok).toEqual([expect.objectContaining({ check: 'cni-check', ok: true })])
    // take the container's address away behind CNI's back
    execFileSync('nsenter', [`--net=${join(dir, 'rt', 'netns', s.id)}`, 'ip', 'addr', 'flush', 'dev', 'eth0'])
    const bad = (await networkFindings(join(dir, 'rt'))).filter((f) => f.message.includes(s.id))
    expect(bad).toEqual([expect.objectContaining({ check: 'cni-check', ok: false, fix: expect.stringContaining('skiff restart') })])
    // put it back: the bridge plugin's DEL finds the masquerade rules through that address
    execFileSync('nsenter', [`--net=${join(dir, 'rt', 'netns', s.id)}`, 'ip', 'addr', 'add', `${net.prefix}.40/24`, 'dev', 'eth0'])
    await c.kill()
    await c.wait()
    await c.remove()
  })

  it('a failed create (command missing) undoes the network too', async () => {
    const s = spec(['no-such-command'], `${net.prefix}.30`)
    await expect(rt.create(s)).rejects.toMatchObject({ code: 'EXECUTABLE_NOT_FOUND' })
    expect(existsSync(join(dir, 'rt', 'netns', s.id))).toBe(false)
    expect(readdirSync(join(dir, 'rt', 'cni', 'ipam', network.name))).not.toContain(`${net.prefix}.30`)
    expect(networkTraces({ bridge: net.bridge, prefix: net.prefix, ids: [s.id] }).rules).toEqual([])
  })
})
