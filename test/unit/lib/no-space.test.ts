import { describe, expect, it } from 'vitest'
import { noSpace, noSpaceCode, SkiffError } from '../../../src/lib/errors.js'
import { STATUS, toSkiffError } from '../../../src/http/errors.js'

const errno = (code: string) => Object.assign(new Error(`${code}: x, write`), { code })

describe('out of space', () => {
  it.each([
    [errno('ENOSPC'), 'ENOSPC'],
    [errno('EDQUOT'), 'EDQUOT'],
    [Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }), 'SQLITE_FULL'],
    [new SkiffError('internal', 'UNPACK_FAILED', 'x', { cause: errno('ENOSPC') }), 'ENOSPC'],
    [errno('EIO'), undefined],
    [undefined, undefined],
  ])('%s → %s', (e, code) => expect(noSpaceCode(e)).toBe(code))

  it('is a 507 NO_SPACE naming what was being done and the errno', () => {
    const e = noSpace('pull busybox', errno('EDQUOT'))
    expect(e).toMatchObject({ kind: 'insufficient_storage', code: 'NO_SPACE', message: "pull busybox: disk quota exceeded (EDQUOT) on the data dir's filesystem; free space there and retry" })
    expect(STATUS[e.kind]).toBe(507)
  })

  it('an unwrapped ENOSPC reaching the API is a 507, not a 500', () => {
    expect(toSkiffError(errno('ENOSPC'))).toMatchObject({ code: 'NO_SPACE', kind: 'insufficient_storage' })
    expect(toSkiffError(errno('EIO'))).toMatchObject({ code: 'INTERNAL' })
  })
})
