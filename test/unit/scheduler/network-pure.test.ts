import { describe, expect, it } from 'vitest'
import { allocateIp, freeSubnet, parseCidr, parseProcRoutes, subnetConflict } from '../../../src/scheduler/ipam.js'
import { allocatePorts, type HeldPort } from '../../../src/scheduler/port-alloc.js'
import { formatMapping, parsePorts, parsePublish } from '../../../src/scheduler/publish.js'

describe('parsePublish (docker -p)', () => {
  it.each([
    ['80', [{ hostIp: '127.0.0.1', containerPort: 80, protocol: 'tcp' }]],
    ['8080:80', [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]],
    ['0.0.0.0:8080:80/udp', [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'udp' }]],
    ['127.0.0.2::53/UDP', [{ hostIp: '127.0.0.2', containerPort: 53, protocol: 'udp' }]],
    ['8000-8001:80-81', [{ hostIp: '127.0.0.1', hostPort: 8000, containerPort: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 8001, containerPort: 81, protocol: 'tcp' }]],
    ['7000-7001', [{ hostIp: '127.0.0.1', containerPort: 7000, protocol: 'tcp' }, { hostIp: '127.0.0.1', containerPort: 7001, protocol: 'tcp' }]],
  ] as const)('%s', (spec, want) => expect(parsePublish(spec)).toEqual(want))
  it.each([
    ['', 'container'], ['80/sctp', 'protocol'], ['0:80', 'host port 0'], ['80:70000', '70000'], ['a:b:c:d', 'too many'],
    ['[::1]:80:80', 'IPv6'], ['300.1.1.1:80:80', 'host address'], ['8000-8002:80-81', 'maps 3'], ['90-80', 'ends before'], ['1-2000', 'longer than'],
  ])('refuses %j (%s), naming the field', (spec, why) => {
    expect(() => parsePublish(spec, 'ports[3]')).toThrow(expect.objectContaining({ code: 'INVALID_PORT', extra: expect.objectContaining({ field: 'ports[3]' }) }))
    expect(() => parsePublish(spec)).toThrow(new RegExp(why.replace(/[[\]]/g, '\\$&')))
  })
  it('a list may not publish one host port twice (0.0.0.0 collides with every address)', () => {
    expect(() => parsePorts(['8080:80', '0.0.0.0:8080:81'])).toThrow(expect.objectContaining({ code: 'INVALID_PORT', extra: expect.objectContaining({ field: 'ports[1]' }) }))
    expect(parsePorts(['8080:80', '8080:80/udp', '127.0.0.2:8080:81'])).toHaveLength(3)
    expect(formatMapping({ hostIp: '127.0.0.1', hostPort: 32768, containerPort: 80, protocol: 'tcp' })).toBe('80/tcp -> 127.0.0.1:32768')
  })
})

describe('allocatePorts', () => {
  const held: HeldPort[] = [{ jobId: 'J1', hostIp: '127.0.0.1', hostPort: 8080, protocol: 'tcp' }, { jobId: 'J2', hostIp: '0.0.0.0', hostPort: 9090, protocol: 'tcp' }]
  const o = { range: [40000, 40003] as [number, number], start: 40001 }
  it.each([
    ['a free fixed port', [{ hostIp: '127.0.0.1', hostPort: 8081, containerPort: 80, protocol: 'tcp' }], { ok: true, ports: [{ hostIp: '127.0.0.1', hostPort: 8081, containerPort: 80, protocol: 'tcp' }] }],
    ['the same port on another protocol', [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }], { ok: true }],
    ['the same port on another address', [{ hostIp: '127.0.0.2', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], { ok: true }],
    ['a port held on the same address', [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], { ok: false, holder: held[0] }],
    ['a port held on every address', [{ hostIp: '127.0.0.5', hostPort: 9090, containerPort: 80, protocol: 'tcp' }], { ok: false, holder: held[1] }],
    ['every address, held on one', [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], { ok: false, holder: held[0] }],
  ] as const)('%s', (_n, reqs, want) => expect(allocatePorts(reqs as never, held, o)).toMatchObject(want))
  it('free ports: from `start`, wrapping, skipping held and excluded ones, never one asked for by number', () => {
    const reqs = [{ hostIp: '127.0.0.1', containerPort: 1 }, { hostIp: '127.0.0.1', hostPort: 40002, containerPort: 2 }, { hostIp: '127.0.0.1', containerPort: 3 }].map((r) => ({ ...r, protocol: 'tcp' as const }))
    const a = allocatePorts(reqs, [{ jobId: 'J', hostIp: '0.0.0.0', hostPort: 40003, protocol: 'tcp' }], { range: [40000, 40005], start: 40001, excluded: [{ hostIp: '127.0.0.1', hostPort: 40001, protocol: 'tcp' }] })
    expect(a.ok && a.ports.map((p) => [p.hostPort, p.containerPort])).toEqual([[40004, 1], [40002, 2], [40005, 3]])
    expect(allocatePorts([{ hostIp: '127.0.0.1', containerPort: 1, protocol: 'tcp' }], [], { range: [40000, 40005], start: 40005 })).toMatchObject({ ok: true, ports: [{ hostPort: 40005 }] })
    const full = [0, 1, 2, 3].map((i) => ({ jobId: 'J', hostIp: '127.0.0.1', hostPort: 40000 + i, protocol: 'tcp' as const }))
    expect(allocatePorts([{ hostIp: '127.0.0.1', containerPort: 1, protocol: 'tcp' }], full, o)).toMatchObject({ ok: false, exhausted: true })
  })
})

describe('ipam', () => {
  it.each([['10.77.0.0/16', { prefix: 16 }], ['192.168.5.0/24', { prefix: 24 }]])('parses %s', (s, want) => expect(parseCidr(s)).toMatchObject(want))
  it.each(['10.77.0.1/16', '10.77.0.0', '10.77.0.0/33', '10.0.0.0/7', '10.0.0.0/30', 'x/24', '10.77.0.0/16/1'])('refuses %s', (s) => {
    expect(() => parseCidr(s)).toThrow(expect.objectContaining({ code: 'INVALID_SUBNET', extra: expect.objectContaining({ field: 'subnet' }) }))
  })
  it('addresses: after the gateway, round robin after the last one, never network/gateway/broadcast', () => {
    const c = parseCidr('10.1.2.0/29') // .0 net, .1 gw, .2-.6 hosts, .7 broadcast
    expect(allocateIp(c, new Set())).toBe('10.1.2.2')
    expect(allocateIp(c, new Set(['10.1.2.2', '10.1.2.3']))).toBe('10.1.2.4')
    expect(allocateIp(c, new Set(), '10.1.2.4')).toBe('10.1.2.5')
    expect(allocateIp(c, new Set(['10.1.2.2']), '10.1.2.6')).toBe('10.1.2.3')
    expect(allocateIp(c, new Set(['10.1.2.2', '10.1.2.3', '10.1.2.4', '10.1.2.5', '10.1.2.6']))).toBeUndefined()
  })
  const routes = parseProcRoutes('Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\ndocker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\nskiff0\t00004D0A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n')
  it('reads /proc/net/route', () => {
    expect(routes).toEqual([
      { iface: 'eth0', dest: '0.0.0.0', mask: '0.0.0.0' }, { iface: 'eth0', dest: '192.0.2.0', mask: '255.255.255.0' },
      { iface: 'docker0', dest: '172.17.0.0', mask: '255.255.0.0' }, { iface: 'skiff0', dest: '10.77.0.0', mask: '255.255.0.0' },
    ])
  })
  it.each([
    ['10.78.0.0/24', undefined],
    ['172.17.5.0/24', 'the host route 172.17.0.0/16 on docker0'],
    ['192.0.2.128/25', 'the host route 192.0.2.0/24 on eth0'],
    ['10.77.1.0/24', 'network default (10.77.0.0/16)'],
    ['127.1.0.0/16', 'the reserved range 127.0.0.0/8'],
  ])('subnet %s conflicts with %s (the default route and our own bridges aside)', (s, want) => {
    expect(subnetConflict(parseCidr(s), { networks: [{ name: 'default', subnet: '10.77.0.0/16' }], routes, ownBridges: ['skiff0'] })).toBe(want)
  })
  it('a free /24 from a pool', () => {
    const taken = [parseCidr('10.78.0.0/24'), parseCidr('10.78.1.0/24')]
    const c = freeSubnet(parseCidr('10.78.0.0/22'), 24, (x) => (taken.some((t) => t.base === x.base) ? 'taken' : undefined))
    expect(c).toEqual(parseCidr('10.78.2.0/24'))
    expect(freeSubnet(parseCidr('10.78.0.0/24'), 24, () => 'x')).toBeUndefined()
  })
})
