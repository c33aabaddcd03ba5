import { describe, expect, it } from 'vitest'
import { formatReference, normalizeReference, parseReference } from '../../../src/images/reference.js'

const D = 'sha256:' + 'ab'.repeat(32)

describe('parseReference', () => {
  const ok = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x'],
    ['user/repo', 'docker.io/user/repo:latest'],
    ['localhost/foo', 'localhost/foo:latest'],
    ['localhost:5000/ns/name:tag', 'localhost:5000/ns/name:tag'],
    ['127.0.0.1:5000/a/b/c:v1.2-rc_3', '127.0.0.1:5000/a/b/c:v1.2-rc_3'],
    ['quay.io/coreos/etcd', 'quay.io/coreos/etcd:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`],
    [`host:5000/x@${D}`, `host:5000/x@${D}`],
    ['a__b/c-d.e---f', 'docker.io/a__b/c-d.e---f:latest'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
  ] as const
  it.each(ok)('%s → %s', (input, want) => {
    expect(normalizeReference(input)).toBe(want)
  })

  const bad = [
    ['', 'empty'],
    ['Busybox', 'uppercase single name'],
    ['docker.io/Library/x', 'uppercase path'],
    ['busybox:', 'empty tag'],
    ['busybox:-x', 'tag starts with dash'],
    ['busybox@sha256:abc', 'short digest'],
    ['busybox@md5:' + 'a'.repeat(32), 'unsupported algorithm'],
    ['a//b', 'empty component'],
    ['a/b_', 'trailing separator'],
    ['host:port/x', 'non-numeric port'],
    ['-host.io/x', 'bad host'],
    ['ab'.repeat(32), '64-hex name'],
    ['x/' + 'a'.repeat(300), 'too long'],
    ['@' + D, 'no name'],
  ] as const
  it.each(bad)('rejects %j (%s) with INVALID_REFERENCE', (input) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ code: 'INVALID_REFERENCE', kind: 'invalid_argument' }))
  })

  it('keeps tag and digest separately', () => {
    expect(parseReference(`r.io:443/a/b:t@${D}`)).toEqual({ domain: 'r.io:443', path: 'a/b', tag: 't', digest: D })
    expect(formatReference({ domain: 'docker.io', path: 'library/x', digest: D as `sha256:${string}` })).toBe(`docker.io/library/x@${D}`)
  })
})
