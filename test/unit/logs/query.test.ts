import { describe, expect, it } from 'vitest'
import { coalesce, parseSince, TailTracker, type LogRecord } from '../../../src/logs/query.js'

type S = 'stdout' | 'stderr'
/** Records from [stream, text] pairs with contiguous offsets. */
function recs(parts: [S, string][]): LogRecord[] {
  let off = 0
  return parts.map(([stream, t], i) => {
    const r = { offset: off, stream, time: new Date(i * 1000), data: Buffer.from(t) }
    off += r.data.length
    return r
  })
}

describe('TailTracker', () => {
  const cases: { name: string; parts: [S, string][]; n: number; sel?: 'stdout' | 'stderr' | 'all'; want: Record<S, string> }[] = [
    { name: 'last 2 of 4 lines', parts: [['stdout', 'a\n'], ['stdout', 'b\n'], ['stdout', 'c\n'], ['stdout', 'd\n']], n: 2, want: { stdout: 'c\nd\n', stderr: '' } },
    { name: 'partial records form one line', parts: [['stdout', 'a\n'], ['stdout', 'bb'], ['stdout', 'bb'], ['stdout', 'b\n']], n: 1, want: { stdout: 'bbbbb\n', stderr: '' } },
    { name: 'unterminated last line counts', parts: [['stdout', 'a\n'], ['stdout', 'b\n'], ['stdout', 'tail']], n: 2, want: { stdout: 'b\ntail', stderr: '' } },
    { name: 'interleaved streams count together', parts: [['stdout', 'o1\n'], ['stderr', 'e1\n'], ['stdout', 'o2\n'], ['stderr', 'e2\n']], n: 3, want: { stdout: 'o2\n', stderr: 'e1\ne2\n' } },
    { name: 'stream filter counts only that stream', parts: [['stdout', 'o1\n'], ['stderr', 'e1\n'], ['stdout', 'o2\n'], ['stderr', 'e2\n']], n: 1, sel: 'stderr', want: { stdout: '', stderr: 'e2\n' } },
    { name: 'more than there is', parts: [['stdout', 'a\n']], n: 10, want: { stdout: 'a\n', stderr: '' } },
    { name: 'zero', parts: [['stdout', 'a\n']], n: 0, want: { stdout: '', stderr: '' } },
  ]
  it.each(cases)('$name', ({ parts, n, sel, want }) => {
    const rs = recs(parts)
    const t = new TailTracker(n, sel)
    for (const r of rs) t.push(r)
    const starts = t.starts()
    const got: Record<S, string> = { stdout: '', stderr: '' }
    for (const r of rs) if (r.offset >= starts[r.stream] && (!sel || sel === 'all' || sel === r.stream)) got[r.stream] += Buffer.from(r.data).toString()
    expect(got).toEqual(want)
  })
})

describe('coalesce', () => {
  it('merges adjacent same-stream records up to max bytes, keeping offsets exact', () => {
    const rs = recs([['stdout', 'aa'], ['stdout', 'bb'], ['stdout', 'cc'], ['stderr', 'x'], ['stdout', 'dd']])
    const out = coalesce(rs, 4)
    expect(out.map((r) => [r.offset, r.stream, Buffer.from(r.data).toString()])).toEqual([
      [0, 'stdout', 'aabb'],
      [4, 'stdout', 'cc'],
      [6, 'stderr', 'x'],
      [7, 'stdout', 'dd'],
    ])
  })
  it('never merges a retention marker', () => {
    const rs: LogRecord[] = [
      { offset: 10, stream: 'stderr', time: new Date(0), data: Buffer.alloc(0), dropped: { from: 0, to: 10 } },
      { offset: 10, stream: 'stderr', time: new Date(0), data: Buffer.from('x') },
    ]
    expect(coalesce(rs, 100)).toHaveLength(2)
  })
})

describe('parseSince', () => {
  const now = new Date('2026-01-01T12:00:00Z')
  it.each([
    ['5m', '2026-01-01T11:55:00.000Z'],
    ['1h30m', '2026-01-01T10:30:00.000Z'],
    ['90', '2026-01-01T11:58:30.000Z'],
    ['2026-01-01T11:00:00Z', '2026-01-01T11:00:00.000Z'],
    ['2026-01-01T13:00:00.5+02:00', '2026-01-01T11:00:00.500Z'],
  ])('%s', (input, want) => {
    expect(parseSince(input, now).toISOString()).toBe(want)
  })
  it.each(['yesterday', '5x', '', '2026-13-45T99:00:00Z'])('rejects %j naming the field', (input) => {
    expect(() => parseSince(input, now)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: { field: 'since' } }))
  })
})
