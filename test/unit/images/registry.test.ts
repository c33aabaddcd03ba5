import { describe, expect, it } from 'vitest'
import { parseChallenges } from '../../../src/images/registry/challenge.js'
import { mergeCredentials, normalizeRegistryKey, parseDockerConfig } from '../../../src/images/registry/credentials.js'
import { httpAllowed, isLoopbackHost } from '../../../src/images/registry/transport.js'

describe('parseChallenges', () => {
  const cases = [
    {
      name: 'docker hub bearer',
      h: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      want: [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } }],
    },
    { name: 'basic', h: 'Basic realm="Registry Realm"', want: [{ scheme: 'basic', params: { realm: 'Registry Realm' } }] },
    { name: 'token68-ish unquoted', h: 'Bearer realm=https://x/t, service=reg', want: [{ scheme: 'bearer', params: { realm: 'https://x/t', service: 'reg' } }] },
    {
      name: 'two challenges in one header',
      h: 'Basic realm="a", Bearer realm="https://b/token",scope="repository:x:pull,push"',
      want: [{ scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'https://b/token', scope: 'repository:x:pull,push' } }],
    },
    { name: 'escaped quote', h: 'Basic realm="a\\"b"', want: [{ scheme: 'basic', params: { realm: 'a"b' } }] },
    { name: 'empty', h: '', want: [] },
  ]
  it.each(cases)('$name', ({ h, want }) => expect(parseChallenges(h)).toEqual(want))
})

describe('credentials', () => {
  it('parses docker config auths (base64 and explicit fields) and normalizes hub keys', () => {
    const text = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('me:se:cret').toString('base64') },
        'localhost:5000': { username: 'u', password: 'p' },
        'r.io': { identitytoken: 'tok' },
        'empty.io': {},
      },
    })
    expect(parseDockerConfig(text)).toEqual({
      'docker.io': { username: 'me', password: 'se:cret' },
      'localhost:5000': { username: 'u', password: 'p' },
      'r.io': { identityToken: 'tok' },
    })
  })
  it.each([
    ['{', 'INVALID_CREDENTIALS'],
    [JSON.stringify({ auths: 3 }), 'INVALID_CREDENTIALS'],
    [JSON.stringify({ auths: { x: { auth: Buffer.from('nocolon').toString('base64') } } }), 'INVALID_CREDENTIALS'],
  ])('rejects %s', (t, code) => expect(() => parseDockerConfig(t)).toThrow(expect.objectContaining({ code })))
  it('skiff config wins over docker config', () => {
    expect(mergeCredentials({ 'a:1': { username: 'skiff' } }, { 'a:1': { username: 'docker' }, b: { username: 'b' } })).toEqual({ 'a:1': { username: 'skiff' }, b: { username: 'b' } })
    expect(normalizeRegistryKey('http://Host:5000/v2/')).toBe('host:5000')
  })
})

describe('scheme policy', () => {
  it.each([
    ['127.0.0.1:5000', [], true],
    ['127.9.8.7', [], true],
    ['localhost:80', [], true],
    ['[::1]:5000', [], true],
    ['10.0.0.1:5000', [], false],
    ['registry.example.com', [], false],
    ['10.0.0.1:5000', ['10.0.0.1:5000'], true],
    ['reg.lan:5000', ['reg.lan'], true],
    ['128.0.0.1', [], false],
  ] as const)('%s (insecure=%j) → %s', (host, insecure, want) => {
    expect(httpAllowed(host, insecure)).toBe(want)
  })
  it('loopback detection', () => expect(['127.0.0.1', 'localhost', '::1', '1.2.3.4'].map(isLoopbackHost)).toEqual([true, true, true, false]))
})
