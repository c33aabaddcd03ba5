import { describe, expect, it } from 'vitest'
import { etcFiles } from '../../../src/runtime/network/attach.js'
import { hostsFile, resolvConf } from '../../../src/runtime/network/etc-files.js'

describe('/etc/hosts', () => {
  it('localhost first, own names on 127.0.1.1 without an address', () => {
    expect(hostsFile({ names: ['web', 'my-job'], ips: [] })).toBe('127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb my-job\n')
  })
  it('own names on each own address, then peers; a peer never shadows the container or an earlier peer', () => {
    const t = hostsFile({ names: ['a'], ips: ['10.1.0.2'] }, [{ ip: '10.1.0.3', names: ['b', 'a', 'localhost'] }, { ip: '10.1.0.4', names: ['b'] }, { ip: '10.1.0.5', names: ['c', 'c2'] }])
    expect(t.split('\n').slice(2)).toEqual(['10.1.0.2\ta', '10.1.0.3\tb', '10.1.0.5\tc c2', ''])
  })
})

describe('/etc/resolv.conf', () => {
  const host = 'search example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n'
  it.each([
    ['host mode: as is', { ownNetns: false }, 'search example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n'],
    ['own netns: loopback nameservers dropped', { ownNetns: true }, 'search example\nnameserver 10.0.0.2\noptions edns0\n'],
    ['explicit nameservers replace the host\'s', { ownNetns: true, nameservers: ['10.9.0.1'] }, 'nameserver 10.9.0.1\nsearch example\noptions edns0\n'],
  ] as const)('%s', (_n, o, want) => expect(resolvConf(host, o)).toBe(want))
  it('only loopback resolvers: the fallback, or none; no host file: empty', () => {
    expect(resolvConf('nameserver 127.0.0.53\n', { ownNetns: true, fallback: ['10.9.0.1'] })).toBe('nameserver 10.9.0.1\n')
    expect(resolvConf('nameserver ::1\n', { ownNetns: true })).toBe('')
    expect(resolvConf(undefined, { ownNetns: false })).toBe('')
  })
})

describe('etcFiles', () => {
  it('hostname, hosts with the aliases (not repeating the hostname) and the host resolver in host mode', () => {
    expect(etcFiles({ hostname: 'h', aliases: ['h', 'job'], ips: [], mode: 'host', hostResolvConf: 'nameserver 127.0.0.53\n' })).toEqual({
      hostname: 'h\n',
      hosts: '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\th job\n',
      'resolv.conf': 'nameserver 127.0.0.53\n',
    })
  })
})
