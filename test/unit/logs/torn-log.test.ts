import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogStore, type LogRecord } from '../../../src/logs/index.js'
import { encodeRecord } from '../../../src/logs/record.js'

// What conmon 2.1.6 leaves in a log after writes that failed with ENOSPC: it drops
// single iovec segments, newlines among them, so lines run together past any
// length conmon writes. Such a line is skipped like a malformed one (no decoded
// bytes) by readers and by compaction alike, instead of failing every read.
const T = new Date('2026-12-01T00:00:00Z')
let root: string | undefined
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true })
})

const collect = async (it: AsyncIterable<LogRecord>) => {
  const out: LogRecord[] = []
  for await (const r of it) out.push(r)
  return out
}

describe('a log with a line longer than any conmon writes', () => {
  it('reads around it, and compaction cuts across it with offsets the readers agree on', async () => {
    root = mkdtempSync(join(tmpdir(), 'skiff-torn-'))
    const logs = createLogStore({ root, sweepMs: 0, maxBytes: 2 * 1024 * 1024, segmentBytes: 4096 })
    const file = logs.pathFor('job1')
    appendFileSync(file, encodeRecord({ stream: 'stdout', time: T, data: 'before\n' }))
    appendFileSync(file, Buffer.concat([encodeRecord({ stream: 'stdout', time: T, data: 'x', partial: true }).subarray(0, 40), Buffer.alloc(3 * 1024 * 1024, 0x61), Buffer.from('\n')]))
    appendFileSync(file, encodeRecord({ stream: 'stderr', time: T, data: 'after\n' }))
    const recs = await collect(logs.read('job1'))
    expect(recs.map((r) => [r.offset, r.stream, r.data.toString()])).toEqual([[0, 'stdout', 'before\n'], [7, 'stderr', 'after\n']])
    expect(await logs.end('job1')).toBe(13)
    // over the 2 MiB cap: the cut lands past the long line
    const meta = await logs.compact('job1')
    expect(meta).toBeDefined()
    const kept = await collect(logs.read('job1'))
    expect(kept.at(-1)).toMatchObject({ offset: 7, stream: 'stderr' })
    expect(kept.at(-1)!.data.toString()).toBe('after\n')
    logs.close()
  })
})
