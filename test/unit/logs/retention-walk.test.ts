import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CapGuard } from '../../../src/logs/cap-guard.js'
import { parseRecords, scanDecoded } from '../../../src/logs/record.js'

const ts = '2026-01-01T00:00:00.123456789Z'
const lines = [
  `${ts} stdout F hello\n`, `${ts} stderr P part`, '\n', `${ts} stderr F rest\n`, 'garbage line\n', `${ts} stdout X bad tag\n`,
  `${ts} stdout F \n`, `${ts} stdout P ${'x'.repeat(100)}\n`, `${ts} stdout F ${'é'.repeat(10)}\n`, `short stdout F a\n`,
]

describe('scanDecoded (the retention walk)', () => {
  const buf = Buffer.from(lines.join('').replace('part\n', 'part\n'))
  it('counts exactly the decoded bytes parseRecords yields, for every stopping point', () => {
    const recs = parseRecords(buf).records
    for (let stop = 0; stop <= buf.length; stop++) {
      const want = recs.filter((r) => r.lineStart < stop)
      const got = scanDecoded(buf, buf.length, stop)
      const wantConsumed = Math.max(0, ...[...parseRecords(buf).records.map((r) => r.lineEnd)].filter((e, i) => recs[i]!.lineStart < stop))
      expect(got.decoded).toBe(want.reduce((n, r) => n + r.dataEnd - r.dataStart, 0))
      // it may walk past malformed lines parseRecords dropped, never past a good line at/after stop
      expect(got.consumed).toBeGreaterThanOrEqual(wantConsumed)
      expect(recs.some((r) => r.lineStart >= stop && r.lineStart < got.consumed)).toBe(false)
    }
  })
  it('stops before a torn last line', () => {
    const torn = Buffer.from(`${ts} stdout F one\n${ts} stdout F tw`)
    expect(scanDecoded(torn, torn.length, torn.length)).toEqual({ consumed: torn.indexOf('\n') + 1, decoded: 4 })
  })
})

describe('CapGuard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-capguard-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  it('checks on growth, coalesces a burst into few checks, and forgets idle logs', async () => {
    let checks = 0
    let now = 0
    let release!: () => void
    const g = new CapGuard({ check: async () => { checks++; await new Promise<void>((r) => (release = r)) }, minGapMs: 0, now: () => now })
    g.track('j', dir)
    await new Promise((r) => setTimeout(r, 20))
    expect(checks).toBe(1) // the first check, at once; it is still running
    for (let i = 0; i < 200; i++) writeFileSync(join(dir, 'container.log'), `line ${i}\n`, { flag: 'a' })
    await new Promise((r) => setTimeout(r, 50))
    expect(checks).toBe(1) // events while a check runs only mark it dirty
    release()
    await new Promise((r) => setTimeout(r, 50))
    expect(checks).toBe(2) // one more for the whole burst
    release()
    await new Promise((r) => setTimeout(r, 20))
    now = 10_000
    g.pruneIdle(1000)
    expect(g.has('j')).toBe(false)
    g.close()
  })
})
