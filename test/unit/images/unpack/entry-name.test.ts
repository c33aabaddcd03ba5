import { describe, expect, it } from 'vitest'
import { baseOf, entryName, isWithin, parentOf } from '../../../../src/images/unpack/entry-name.js'

describe('entryName', () => {
  it.each([
    ['usr/bin/sh', 'usr/bin/sh'],
    ['./usr/bin/sh', 'usr/bin/sh'],
    ['usr/lib/', 'usr/lib'],
    ['/etc/passwd', 'etc/passwd'],
    ['//etc//passwd', 'etc/passwd'],
    ['a/./b', 'a/b'],
    ['a/../b', 'b'],
    ['a/b/../../c', 'c'],
    ['./', '.'],
    ['.', '.'],
    ['/', '.'],
    ['..foo', '..foo'],
    ['a/..b/c', 'a/..b/c'],
    ['.wh..wh..opq', '.wh..wh..opq'],
  ])('%j → %j', (raw, want) => {
    expect(entryName(raw)).toBe(want)
  })

  it.each(['..', '../x', 'a/../../x', '/../x', './../x', 'a/b/../../../etc/passwd', '', 'a\0b'])('refuses %j with UNSAFE_TAR_ENTRY', (raw) => {
    expect(() => entryName(raw)).toThrow(expect.objectContaining({ code: 'UNSAFE_TAR_ENTRY', kind: 'upstream' }))
  })

  it('names the raw entry in the error', () => {
    expect(() => entryName('a/../../x')).toThrow(/"a\/..\/..\/x"/)
  })
})

describe('path helpers', () => {
  it.each([
    ['a/b/c', 'a/b', 'c'],
    ['a', '.', 'a'],
  ])('%j: parent %j, base %j', (name, parent, base) => {
    expect(parentOf(name)).toBe(parent)
    expect(baseOf(name)).toBe(base)
  })

  it.each([
    ['a/b', 'a', true],
    ['a', 'a', true],
    ['ab', 'a', false],
    ['a/b', '.', true],
    ['b', 'a/b', false],
  ])('isWithin(%j, %j) = %j', (name, dir, want) => {
    expect(isWithin(name, dir)).toBe(want)
  })
})
