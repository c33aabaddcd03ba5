import { describe, expect, it } from 'vitest'
import { parseBytes, parseDuration } from '../../../src/lib/units.js'

describe('parseBytes', () => {
  it.each([
    ['256m', 256 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['512K', 512 * 1024],
    ['1.5g', 1.5 * 1024 ** 3],
    ['100', 100],
    [4096, 4096],
  ] as const)('%s → %d', (input, want) => expect(parseBytes(input)).toBe(want))

  it.each(['', 'abc', '12q', '-5m'])('rejects %j naming the field', (input) =>
    expect(() => parseBytes(input, 'limits.memory')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: { field: 'limits.memory' } })),
  )
})

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['2h', 7_200_000],
    ['5', 5000],
    [2.5, 2500],
  ] as const)('%s → %d ms', (input, want) => expect(parseDuration(input)).toBe(want))

  it.each(['', 's', '10x', '1m 30s'])('rejects %j', (input) => expect(() => parseDuration(input, 'limits.timeout')).toThrow(/limits.timeout/))
})
