import { describe, expect, it } from 'vitest'
import { socketInodes } from '../../../src/lib/port-holder.js'
import { pluginConfig } from '../../../src/runtime/network/cni.js'
import { bridgeConflist, runtimeConfig } from '../../../src/runtime/network/conflist.js'

const net = { name: 'backend', bridge: 'skb01020304', subnet: '10.78.1.0/24', gateway: '10.78.1.1' }

describe('CNI conflist and protocol', () => {
  it('a bridge network: bridge + host-local with the ips capability, portmap only with ports, firewall', () => {
    const l = bridgeConflist(net, { ipamDir: '/d/ipam', ports: true })
    expect(l).toMatchObject({ cniVersion: '1.0.0', name: 'backend' })
    expect(l.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap', 'firewall'])
    expect(l.plugins[0]).toMatchObject({ bridge: 'skb01020304', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.78.1.0/24', gateway: '10.78.1.1' }]], dataDir: '/d/ipam' }, capabilities: { ips: true } })
    expect(bridgeConflist(net, { ipamDir: '/d', ports: false }).plugins.map((p) => p.type)).toEqual(['bridge', 'firewall'])
  })
  it('runtimeConfig: the chosen address; ports with hostIP, none for every interface', () => {
    expect(runtimeConfig('10.78.1.5', 24, [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '0.0.0.0', hostPort: 53, containerPort: 53, protocol: 'udp' }])).toEqual({
      ips: ['10.78.1.5/24'],
      portMappings: [{ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 53, containerPort: 53, protocol: 'udp' }],
    })
  })
  it('each plugin gets name, version, prevResult, and only the runtimeConfig keys it has capabilities for', () => {
    const l = bridgeConflist(net, { ipamDir: '/d', ports: true })
    const rc = runtimeConfig('10.78.1.5', 24, [{ hostIp: '127.0.0.1', hostPort: 1, containerPort: 2, protocol: 'tcp' }])
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.78.1.5/24' }] }
    expect(pluginConfig(l, 0, rc, undefined)).toMatchObject({ type: 'bridge', name: 'backend', cniVersion: '1.0.0', runtimeConfig: { ips: ['10.78.1.5/24'] } })
    expect(pluginConfig(l, 0, rc, undefined)).not.toHaveProperty('prevResult')
    expect(pluginConfig(l, 1, rc, prev)).toMatchObject({ type: 'portmap', runtimeConfig: { portMappings: [{ hostPort: 1 }] }, prevResult: prev })
    expect(pluginConfig(l, 1, rc, prev).runtimeConfig).not.toHaveProperty('ips')
    expect(pluginConfig(l, 2, rc, prev)).not.toHaveProperty('runtimeConfig')
  })
})

describe('port holder', () => {
  const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 100 0 0 10 0
   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
`
  it('finds the listening socket of a port in /proc/net/tcp, not its connections', () => {
    expect(socketInodes(tcp, 8080, 'tcp')).toEqual(['4242'])
    expect(socketInodes(tcp, 80, 'tcp')).toEqual(['4444'])
    expect(socketInodes(tcp, 81, 'tcp')).toEqual([])
  })
})
