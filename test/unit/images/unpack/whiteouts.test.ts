import { describe, expect, it } from 'vitest'
import { classifyEntry, isAllowedXattr } from '../../../../src/images/unpack/whiteouts.js'

describe('classifyEntry', () => {
  it.each([
    ['etc/passwd', { kind: 'write', path: 'etc/passwd' }],
    ['.', { kind: 'write', path: '.' }],
    ['etc/.wh.passwd', { kind: 'whiteout', path: 'etc/passwd' }],
    ['.wh.etc', { kind: 'whiteout', path: 'etc' }],
    ['a/b/.wh..hidden', { kind: 'whiteout', path: 'a/b/.hidden' }],
    ['var/cache/.wh..wh..opq', { kind: 'opaque', dir: 'var/cache' }],
    ['.wh..wh..opq', { kind: 'opaque', dir: '.' }],
    ['.wh..wh.plnk', { kind: 'skip', reason: 'aufs metadata' }],
    ['x/.wh..wh.aufs', { kind: 'skip', reason: 'aufs metadata' }],
    ['etc/foo.wh.bar', { kind: 'write', path: 'etc/foo.wh.bar' }],
    ['etc/.whx', { kind: 'write', path: 'etc/.whx' }],
  ] as const)('%j → %o', (name, want) => {
    expect(classifyEntry(name)).toEqual(want)
  })

  it.each(['.wh.', 'a/.wh.', 'a/.wh..', 'a/.wh...'])('refuses the whiteout %j', (name) => {
    expect(() => classifyEntry(name)).toThrow(expect.objectContaining({ code: 'UNSAFE_TAR_ENTRY' }))
  })
})

describe('isAllowedXattr', () => {
  it.each([
    ['security.capability', true],
    ['user.mime_type', true],
    ['trusted.overlay.opaque', false],
    ['trusted.overlay.redirect', false],
    ['user.overlay.origin', false],
    ['trusted.other', true],
    ['', false],
  ])('%j → %j', (name, want) => {
    expect(isAllowedXattr(name)).toBe(want)
  })
})
