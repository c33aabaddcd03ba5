import { describe, expect, it } from 'vitest'
import { encodeOutput, encodeRecord, makeTimeParser, parseRecords } from '../../../src/logs/record.js'

const T = '2026-11-28T19:58:08.896181779+00:00'
const line = (s: string) => Buffer.from(s, 'latin1')
const decode = (buf: Buffer, opts = {}) => {
  const r = parseRecords(buf, opts)
  return { ...r, recs: r.records.map((x) => ({ stream: x.stream, partial: x.partial, data: buf.toString('latin1', x.dataStart, x.dataEnd) })) }
}

describe('parseRecords', () => {
  const cases = [
    { name: 'F keeps the output newline', in: `${T} stdout F hello\n`, out: [{ stream: 'stdout', partial: false, data: 'hello\n' }], consumed: 45 + 6 },
    { name: 'P drops conmon\'s added newline', in: `${T} stderr P abc\n`, out: [{ stream: 'stderr', partial: true, data: 'abc' }] },
    { name: 'empty line', in: `${T} stdout F \n`, out: [{ stream: 'stdout', partial: false, data: '\n' }] },
    { name: 'CR and NUL are data', in: `${T} stderr F a\rb\0c\n`, out: [{ stream: 'stderr', partial: false, data: 'a\rb\0c\n' }] },
    { name: 'bytes that are not UTF-8', in: `${T} stdout P \xff\xfe\x80\n`, out: [{ stream: 'stdout', partial: true, data: '\xff\xfe\x80' }] },
    { name: 'torn last line is left for later', in: `${T} stdout F one\n${T} stdout F tw`, out: [{ stream: 'stdout', partial: false, data: 'one\n' }] },
    { name: 'garbage line is skipped', in: `not a record\n${T} stdout F x\n`, out: [{ stream: 'stdout', partial: false, data: 'x\n' }], malformed: 1 },
    { name: 'unknown stream is skipped', in: `${T} stdin  F x\n`, out: [], malformed: 1 },
  ] as const
  it.each(cases)('$name', (c) => {
    const r = decode(line(c.in))
    expect(r.recs).toEqual(c.out)
    expect(r.malformed).toBe('malformed' in c ? c.malformed : 0)
    if ('consumed' in c) expect(r.consumed).toBe(c.consumed)
  })

  it('a torn line becomes a partial record when the writer is gone (final)', () => {
    const r = decode(line(`${T} stdout F one\n${T} stdout F tw`), { final: true })
    expect(r.recs).toEqual([
      { stream: 'stdout', partial: false, data: 'one\n' },
      { stream: 'stdout', partial: true, data: 'tw' },
    ])
    expect(r.consumed).toBe(line(`${T} stdout F one\n${T} stdout F tw`).length)
  })

  it('parses incrementally: any split point gives the same records', () => {
    const all = Buffer.concat([encodeOutput('stdout', new Date(0), 'alpha\nbe'), encodeOutput('stderr', new Date(1), 'x\n'), encodeOutput('stdout', new Date(2), 'ta\n')])
    const whole = decode(all).recs
    expect(whole.map((r) => r.data).join('')).toBe('alpha\nbex\nta\n')
    for (let cut = 0; cut <= all.length; cut++) {
      const a = parseRecords(all.subarray(0, cut))
      const rest = parseRecords(all, { start: a.consumed })
      const got = [...a.records, ...rest.records].map((x) => all.toString('latin1', x.dataStart, x.dataEnd))
      expect(got).toEqual(whole.map((r) => r.data))
    }
  })

  it('round-trips binary output split into 8192-byte chunks like conmon', () => {
    const data = Buffer.alloc(50_000)
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 3)) & 0xff
    const enc = encodeOutput('stdout', new Date(0), data)
    const r = parseRecords(enc)
    expect(Buffer.concat(r.records.map((x) => enc.subarray(x.dataStart, x.dataEnd))).equals(data)).toBe(true)
    expect(Math.max(...r.records.map((x) => x.dataEnd - x.dataStart))).toBeLessThanOrEqual(8192)
  })

  it('encodeRecord refuses a newline inside a record', () => {
    expect(() => encodeRecord({ stream: 'stdout', time: new Date(0), data: 'a\nb\n' })).toThrow()
  })
})

describe('makeTimeParser', () => {
  it('parses RFC3339Nano with offsets to the millisecond', () => {
    const p = makeTimeParser()
    expect(p('2026-11-28T19:58:08.896181779+00:00').toISOString()).toBe('2026-11-28T19:58:08.896Z')
    expect(p('2026-11-28T21:58:08.100000000+02:00').toISOString()).toBe('2026-11-28T19:58:08.100Z')
    expect(p('garbage').getTime()).toBe(0)
  })
})
