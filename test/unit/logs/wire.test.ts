import { describe, expect, it } from 'vitest'
import { encodeWire, toWire } from '../../../src/http/routes/logs.js'
import type { LogRecord } from '../../../src/logs/index.js'

const t = new Date('2026-11-28T19:58:08.896Z')
describe('encodeWire (JSON messages built straight into a Buffer)', () => {
  const cases: { name: string; r: LogRecord; job?: string }[] = [
    { name: 'utf-8 text with quotes, backslashes, control bytes', r: { offset: 5, stream: 'stdout', time: t, data: Buffer.from('a "q" \\ \t\r\0 ünï 🚀\n') } },
    { name: 'invalid utf-8 goes as base64', r: { offset: 0, stream: 'stderr', time: t, data: Buffer.from([0xff, 0xfe, 0x00, 0x0a, 0x80]) } },
    { name: 'empty data', r: { offset: 9, stream: 'stdout', time: t, data: Buffer.alloc(0) } },
    { name: 'retention marker', r: { offset: 100, stream: 'stderr', time: t, data: Buffer.alloc(0), dropped: { from: 10, to: 100 } } },
    { name: 'multiplexed job id with unicode', r: { offset: 1, stream: 'stdout', time: t, data: Buffer.from([0xc3]) }, job: 'jöb"1' },
  ]
  it.each(cases)('$name: same JSON as JSON.stringify(toWire(r))', ({ r, job }) => {
    expect(encodeWire(r, job).toString()).toBe(JSON.stringify(toWire(r, job)))
    expect(encodeWire(r, job, true).toString()).toBe(JSON.stringify(toWire(r, job)) + '\n')
  })
  it('base64 data round-trips exactly', () => {
    const data = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 131) & 0xff))
    const m = JSON.parse(encodeWire({ offset: 0, stream: 'stdout', time: t, data }).toString())
    expect(Buffer.from(m.data64, 'base64').equals(data)).toBe(true)
  })
})
