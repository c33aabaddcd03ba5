// Retention needs fallocate(1) (a child process), hence integration.
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createLogStore, encodeOutput, type LogRecord, type LogStore } from '../../../src/logs/index.js'
import { collect } from '../../contract/log-store.contract.js'
import { logStoreContract } from '../../contract/log-store.contract.js'

logStoreContract('file store (integration, inotify + default poll)', (root) => createLogStore({ root, sweepMs: 0 }))

let root: string
let store: LogStore
const KiB = 1024
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'skiff-logs-ret-'))
  store = createLogStore({ root, maxBytes: 256 * KiB, segmentBytes: 64 * KiB, sweepMs: 0 })
})
afterEach(() => {
  store.close()
  rmSync(root, { recursive: true, force: true })
})

const lines = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `line ${a + i} ${'#'.repeat((a + i) % 40)}\n`).join('')

it('the cap drops the oldest segments: offsets of what remains never change, readers get a marker with the dropped range, disk blocks are freed', async () => {
  const path = store.pathFor('r1')
  // a long line split into P records right where segments end, plus lots of lines
  const out = lines(0, 2000) + 'L'.repeat(30000) + '\n' + lines(2000, 12000)
  writeFileSync(path, encodeOutput('stdout', new Date(0), out))
  const before = await collect(store.read('r1'))
  const size = statSync(path).size
  const meta = await store.compact('r1')
  expect(meta).toBeDefined()
  expect(size - meta!.fileStart).toBeLessThanOrEqual(256 * KiB)
  expect(meta!.fileStart % (64 * KiB)).toBeLessThan(9000) // first record boundary after a segment edge
  const after = await collect(store.read('r1'))
  expect(after[0]!.dropped).toEqual({ from: 0, to: meta!.offsetStart })
  const kept = after.slice(1)
  const text = Buffer.concat(kept.map((r) => r.data)).toString()
  expect(text).toBe(out.slice(meta!.offsetStart))
  // the same records, at the same offsets, as before the cut
  const byOffset = new Map(before.map((r: LogRecord) => [r.offset, Buffer.from(r.data).toString()]))
  for (const r of kept) expect(byOffset.get(r.offset)).toBe(Buffer.from(r.data).toString())
  // the hole is real: allocated blocks shrank while the apparent size stayed
  const st = statSync(path)
  expect(st.size).toBe(size)
  expect(st.blocks * 512).toBeLessThan(size - meta!.fileStart + 64 * KiB)
  // resuming from inside the dropped range gives the marker then exactly the rest; from after it: no marker
  const mid = await collect(store.read('r1', { from: 100 }))
  expect(mid[0]!.dropped).toEqual({ from: 100, to: meta!.offsetStart })
  const later = await collect(store.read('r1', { from: meta!.offsetStart + 5 }))
  expect(later[0]!.dropped).toBeUndefined()
  expect(Buffer.concat(later.map((r) => r.data)).toString()).toBe(out.slice(meta!.offsetStart + 5))
  // a fresh store (daemon restart) sees the same offsets
  const again = createLogStore({ root, sweepMs: 0 })
  expect(Buffer.concat((await collect(again.read('r1', { from: meta!.offsetStart + 5 }))).map((r) => r.data)).toString()).toBe(out.slice(meta!.offsetStart + 5))
  again.close()
})

it('a live follower crossing a cut loses nothing it could still read and sees a marker for what it could not', async () => {
  const path = store.pathFor('r2')
  writeFileSync(path, encodeOutput('stdout', new Date(0), lines(0, 100)))
  let exit!: () => void
  const exited = new Promise<{ exitCode: number; signal: null }>((r) => (exit = () => r({ exitCode: 0, signal: null })))
  const got: LogRecord[] = []
  const it = store.follow('r2', 0, new AbortController().signal, { exited: () => exited })[Symbol.asyncIterator]()
  // read a little, then the log grows far past the cap and is compacted while we are behind
  for (let i = 0; i < 3; i++) got.push((await it.next()).value as LogRecord)
  appendFileSync(path, encodeOutput('stdout', new Date(0), lines(100, 20000)))
  await store.compact('r2')
  exit()
  for (let n = await it.next(); !n.done; n = await it.next()) if (!('exit' in n.value)) got.push(n.value)
  const all = lines(0, 20000)
  const marker = got.find((r) => r.dropped)!
  expect(marker).toBeDefined()
  let next = 0
  for (const r of got) {
    if (r.dropped) {
      expect(r.dropped.from).toBe(next)
      next = r.dropped.to
      continue
    }
    expect(r.offset).toBe(next)
    expect(Buffer.from(r.data).toString()).toBe(all.slice(r.offset, r.offset + r.data.length))
    next = r.offset + r.data.length
  }
  expect(next).toBe(Buffer.byteLength(all))
})
