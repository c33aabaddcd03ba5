import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeFrame, FRAME_HEADER, frameHeader } from '../../../src/logs/frame.js'

describe('binary log frames', () => {
  const cases = [
    { name: 'stdout, single-job socket', f: { offset: 0, stream: 'stdout' as const, time: 1_764_359_888_896, data: Buffer.from('hello\n') } },
    { name: 'stderr, big offset (2^53 - 1), binary data', f: { offset: Number.MAX_SAFE_INTEGER, stream: 'stderr' as const, time: 0, data: Buffer.from([0, 0xff, 0x0a, 0x0d]) } },
    { name: 'multiplexed: job id in the header', f: { job: '01JDXYZ-ünïcode', offset: 123_456_789, stream: 'stdout' as const, time: 5, data: Buffer.alloc(0) } },
  ]
  it.each(cases)('$name round-trips', ({ f }) => {
    const b = encodeFrame(f)
    expect(b.length).toBe(FRAME_HEADER + (f.job ? Buffer.byteLength(f.job) : 0) + f.data.length)
    expect(b[0]).toBe(1)
    const d = decodeFrame(b)
    expect({ ...d, data: Buffer.from(d.data) }).toEqual(f.job ? f : { ...f })
    // header + data sent as two fragments reassemble to the same message
    expect(Buffer.concat([frameHeader(f), f.data]).equals(b)).toBe(true)
  })

  it('the layout is fixed little-endian: offset at 4, time at 12, data at 20 + J', () => {
    const b = encodeFrame({ offset: 258, stream: 'stderr', time: 1000, data: Buffer.from('x') })
    expect([...b.subarray(0, 4)]).toEqual([1, 2, 0, 0])
    expect(b.readDoubleLE(4)).toBe(258)
    expect(b.readDoubleLE(12)).toBe(1000)
    expect(b.toString('latin1', 20)).toBe('x')
  })

  it.each([
    ['too short', Buffer.alloc(10)],
    ['unknown version', Buffer.concat([Buffer.from([9, 1, 0, 0]), Buffer.alloc(16)])],
    ['unknown stream', Buffer.concat([Buffer.from([1, 3, 0, 0]), Buffer.alloc(16)])],
    ['truncated job id', Buffer.concat([Buffer.from([1, 1, 40, 0]), Buffer.alloc(16), Buffer.from('abc')])],
  ])('rejects a malformed frame: %s', (_n, b) => {
    expect(() => decodeFrame(b)).toThrow()
  })
})
