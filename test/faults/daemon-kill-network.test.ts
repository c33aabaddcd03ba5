import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../helpers/daemon.js'
import { networkTraces, removeBridge, testNetworkEnv } from '../helpers/net.js'

// kill -9 of the daemon while bridge jobs with published ports run: the one that
// ends while the daemon is down is torn down completely after the restart (no
// veth, netns, iptables rule, lease, port); the one still running keeps its
// address, its port and its reachability.
const net = testNetworkEnv()
const daemon = useBusyboxDaemon({ env: net.env })
afterAll(() => removeBridge(net.bridge))

const waitFor = async (what: string, ok: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`timed out waiting for ${what}`)
}
const get = async (port: number) => {
  for (let i = 0; i < 100; i++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/`)).text()
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`nothing on ${port}`)
}

describe('kill -9 of the daemon with bridge jobs', () => {
  it('a job that ended meanwhile leaves nothing behind after the restart; a running one keeps its network and port', async () => {
    const d = daemon()
    // holds until the test drops /go into its rootfs (through the overlay mount on the host)
    const ender = (await d.api('POST', '/run', { image: 'busybox', ports: ['80'], cmd: 'while [ ! -e /go ]; do usleep 20000; done' })).json
    const stayer = (await d.api('POST', '/run', { image: 'busybox', name: `stay-${process.pid}`, ports: ['80'], cmd: 'mkdir /tmp/w; echo still-here > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w' })).json
    let e: any, s: any
    await waitFor('both running', async () => {
      e = (await d.api('GET', `/jobs/${ender.id}`)).json
      s = (await d.api('GET', `/jobs/${stayer.id}`)).json
      return e.state === 'running' && s.state === 'running'
    })
    const endPort = e.network.ports[0].hostPort
    const stayPort = s.network.ports[0].hostPort
    expect(await get(stayPort)).toBe('still-here\n')

    await d.kill9()
    writeFileSync(join(d.dataDir, 'runtime/containers', `${ender.id}.1`, 'merged/go'), '')
    await waitFor('the exit while the daemon is down', () => existsSync(join(d.dataDir, 'runtime/exits', `${ender.id}.1`)))
    // the running service stays reachable while skiff is down (DNAT rules are the kernel's)
    expect(await get(stayPort)).toBe('still-here\n')
    await d.restart()

    await waitFor('the ended job recorded', async () => (await d.api('GET', `/jobs/${ender.id}`)).json.state === 'exited')
    await waitFor('its netns gone', () => !existsSync(join(d.dataDir, 'runtime/netns', `${ender.id}.1`)))
    const t = networkTraces({ bridge: net.bridge, prefix: net.subnet.prefix, ids: [`${ender.id}.1`] })
    expect(t.rules.filter((r) => r.includes(e.network.ip + '/') || r.includes(ender.id))).toEqual([])
    expect(readdirSync(join(d.dataDir, 'runtime/cni/ipam/default'))).not.toContain(e.network.ip)
    expect((await d.api('GET', `/jobs/${ender.id}`)).json.network.ports).toEqual([])
    // its host port is free again: a new job may take it by number
    const again = (await d.api('POST', '/run', { image: 'busybox', ports: [`${endPort}:80`], cmd: 'mkdir /tmp/w; echo reused > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w' })).json
    expect(await get(endPort)).toBe('reused\n')

    // the stayer: same address and port, still answering, its port still held against others
    const s2 = (await d.api('GET', `/jobs/${stayer.id}`)).json
    expect(s2).toMatchObject({ state: 'running', network: { ip: s.network.ip, ports: [{ hostPort: stayPort }] } })
    expect(await get(stayPort)).toBe('still-here\n')
    const clash = await d.api('POST', '/run?wait=true', { image: 'busybox', ports: [`${stayPort}:80`], cmd: 'true' })
    expect(clash.json).toMatchObject({ state: 'failed', reason: 'PORT_IN_USE' })

    for (const id of [stayer.id, again.id]) {
      await d.api('POST', `/jobs/${id}/kill`)
      await d.api('POST', `/jobs/${id}/wait`)
    }
    await waitFor('every netns gone', () => readdirSync(join(d.dataDir, 'runtime/netns')).length === 0)
    await waitFor('no rule of the subnet left', () => networkTraces({ bridge: net.bridge, prefix: net.subnet.prefix }).rules.length === 0)
    expect(networkTraces({ bridge: net.bridge, prefix: net.subnet.prefix }).links).toEqual([net.bridge])
  }, 90_000)
})
