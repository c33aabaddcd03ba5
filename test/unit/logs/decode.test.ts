import { describe, expect, it } from 'vitest'
import { decodeLines, encodeOutput, encodeRecord, parseRecords } from '../../../src/logs/record.js'

const T0 = new Date('2026-11-28T19:58:08.896Z')
/** A log mixing streams, partial lines, long lines and binary bytes, plus its decoded output per record. */
function fixture() {
  const bin = Buffer.alloc(20_000)
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919 + (i >> 3)) & 0xff
  const parts: ['stdout' | 'stderr', Buffer | string][] = [
    ['stdout', 'hello\nwor'],
    ['stdout', 'ld\n'],
    ['stderr', 'oops\n'],
    ['stdout', bin],
    ['stdout', 'x'.repeat(9000) + '\n'],
    ['stderr', 'a\rb\0c\n'],
    ['stderr', 'tail without newline'],
  ]
  const file = Buffer.concat(parts.map(([s, d], i) => encodeOutput(s, new Date(T0.getTime() + i), d)))
  const output = Buffer.concat(parts.map(([, d]) => Buffer.from(d)))
  return { file, output, parts }
}

/** Decode a whole file in `step`-byte reads like the cursor does, re-reading torn tails. */
function decodeAll(file: Buffer, o: { from?: number; coalesce?: number; step?: number }) {
  const runs: { offset: number; stream: string; ts: string; data: Buffer }[] = []
  let pos = 0
  let offset = 0
  const step = o.step ?? file.length
  for (;;) {
    const end = Math.min(file.length, pos + step)
    const buf = Buffer.from(file.subarray(pos, end)) // the decoder owns (and overwrites) its buffer
    const final = end === file.length
    const r = decodeLines(buf, { end: buf.length, offset, from: o.from ?? 0, final, coalesce: o.coalesce })
    for (const x of r.runs) runs.push({ ...x, data: Buffer.from(x.data) })
    pos += r.consumed
    offset = r.offset
    if (final || (r.consumed === 0 && end === file.length)) break
    if (r.consumed === 0) throw new Error('no progress')
  }
  return runs
}

describe('decodeLines', () => {
  const { file, output } = fixture()

  it.each([
    { name: 'one run per record (no coalescing)', coalesce: 0 },
    { name: 'coalesced up to 4 KiB', coalesce: 4096 },
    { name: 'coalesced up to 256 KiB', coalesce: 256 * 1024 },
  ])('$name: offsets are contiguous, bytes exact, runs never mix streams or exceed the cap', ({ coalesce }) => {
    for (const step of [file.length, 8300, 9001]) {
      const runs = decodeAll(file, { coalesce, step })
      expect(Buffer.concat(runs.map((r) => r.data)).equals(output)).toBe(true)
      let next = 0
      for (const r of runs) {
        expect(r.offset).toBe(next)
        next += r.data.length
        if (coalesce) expect(r.data.length).toBeLessThanOrEqual(Math.max(coalesce, 8192))
      }
    }
    // the same record boundaries as parseRecords when not coalescing
    if (!coalesce) expect(decodeAll(file, {}).length).toBe(parseRecords(file, { final: true }).records.filter((r) => r.dataEnd > r.dataStart).length)
  })

  it('coalescing merges only adjacent records of one stream, keeping the first timestamp', () => {
    const runs = decodeAll(file, { coalesce: 1 << 20 })
    expect(runs.map((r) => r.stream)).toEqual(['stdout', 'stderr', 'stdout', 'stderr'])
    expect(runs[0]!.ts).toBe(file.toString('latin1', 0, file.indexOf(' ')))
    expect(runs[0]!.data.toString()).toBe('hello\nworld\n')
  })

  it('from: every start gives exactly the rest, a straddling record cut at it', () => {
    for (const coalesce of [0, 4096]) {
      for (const from of [0, 1, 6, 9, 12, 17, 18, 20_000, output.length - 3, output.length, output.length + 10]) {
        const runs = decodeAll(file, { from, coalesce, step: 9000 })
        expect(Buffer.concat(runs.map((r) => r.data)).equals(output.subarray(Math.min(from, output.length))), `from=${from} coalesce=${coalesce}`).toBe(true)
        if (runs.length) expect(runs[0]!.offset).toBe(from)
      }
    }
  })

  it('a torn last line is left unconsumed unless final; malformed lines are skipped and counted', () => {
    const T = '2026-11-28T19:58:08.896181779+00:00'
    const buf = Buffer.from(`${T} stdout F one\nnot a record\n${T} stdout F tw`, 'latin1')
    const r = decodeLines(Buffer.from(buf), { end: buf.length, offset: 0, from: 0, coalesce: 1024 })
    expect(r.runs.map((x) => x.data.toString())).toEqual(['one\n'])
    expect(r.malformed).toBe(1)
    expect(r.consumed).toBe(buf.indexOf(`${T} stdout F tw`))
    const f = decodeLines(Buffer.from(buf), { end: buf.length, offset: 0, from: 0, coalesce: 1024, final: true })
    expect(f.runs.map((x) => x.data.toString())).toEqual(['one\ntw'])
    expect(f.offset).toBe(6)
  })

  it('empty P records produce nothing and do not break a run', () => {
    const buf = Buffer.concat([encodeRecord({ stream: 'stdout', time: T0, data: 'ab', partial: true }), encodeRecord({ stream: 'stdout', time: T0, data: '', partial: true }), encodeRecord({ stream: 'stdout', time: T0, data: 'c\n' })])
    const r = decodeLines(buf, { end: buf.length, offset: 0, from: 0, coalesce: 100 })
    expect(r.runs.map((x) => [x.offset, x.data.toString()])).toEqual([[0, 'abc\n']])
  })
})
