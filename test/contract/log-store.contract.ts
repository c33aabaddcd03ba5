// Conformance suite for LogStore: offsets, resume, filters and follow semantics,
// driven by conmon-format files written in code. Integration tests run the same
// suite; containers are exercised separately in test/integration/logs.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeOutput, encodeRecord, type LogExit, type LogRecord, type LogStore } from '../../src/logs/index.js'

type Make = (root: string) => LogStore

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
const text = (rs: LogRecord[]) => Buffer.concat(rs.map((r) => r.data)).toString('latin1')

export function logStoreContract(name: string, make: Make) {
  describe(`LogStore: ${name}`, () => {
    let root: string
    let store: LogStore
    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'skiff-logs-contract-'))
      store = make(root)
    })
    afterEach(() => {
      store.close()
      rmSync(root, { recursive: true, force: true })
    })

    const t0 = new Date('2026-01-01T00:00:00Z')
    const at = (s: number) => new Date(t0.getTime() + s * 1000)

    it('offsets are positions in the decoded output; every from gives exactly the rest', async () => {
      const path = store.pathFor('job1')
      const parts: [('stdout' | 'stderr'), string][] = [['stdout', 'hello\nwor'], ['stderr', 'oops\n'], ['stdout', 'ld\n'], ['stdout', 'x'.repeat(20000) + '\n'], ['stderr', 'end']]
      writeFileSync(path, Buffer.concat(parts.map(([s, d], i) => encodeOutput(s, at(i), d))))
      const all = await collect(store.read('job1'))
      const full = text(all)
      expect(full).toBe(parts.map((p) => p[1]).join(''))
      for (let i = 1; i < all.length; i++) expect(all[i]!.offset).toBe(all[i - 1]!.offset + all[i - 1]!.data.length)
      for (const from of [0, 1, 6, 9, 10, 14, 17, 5000, full.length - 1, full.length, full.length + 5]) {
        const rest = await collect(store.read('job1', { from }))
        expect(text(rest), `from=${from}`).toBe(full.slice(from))
        if (rest.length) expect(rest[0]!.offset).toBe(from)
      }
    })

    it('stream, tail and since filters', async () => {
      const path = store.pathFor('job2')
      const lines = Array.from({ length: 30 }, (_, i) => encodeRecord({ stream: i % 3 === 0 ? 'stderr' : 'stdout', time: at(i), data: `line ${i}\n` }))
      writeFileSync(path, Buffer.concat(lines))
      expect(text(await collect(store.read('job2', { stream: 'stderr' })))).toBe(Array.from({ length: 10 }, (_, i) => `line ${i * 3}\n`).join(''))
      expect(text(await collect(store.read('job2', { tail: 10 })))).toBe(Array.from({ length: 10 }, (_, i) => `line ${i + 20}\n`).join(''))
      expect(text(await collect(store.read('job2', { tail: 2, stream: 'stdout' })))).toBe('line 28\nline 29\n')
      const since = await collect(store.read('job2', { since: at(25) }))
      expect(since.map((r) => r.time.getTime() >= at(25).getTime())).toEqual([true, true, true, true, true])
      expect(text(since)).toBe('line 25\nline 26\nline 27\nline 28\nline 29\n')
    })

    it('a job with no log yet reads as empty', async () => {
      expect(await collect(store.read('nothing-yet'))).toEqual([])
    })

    it('rejects job ids that are not directory names', () => {
      for (const id of ['../x', 'a/b', '', '.hidden']) expect(() => store.pathFor(id)).toThrow(expect.objectContaining({ code: 'LOG_JOB_ID_INVALID' }))
    })

    it('follow yields the disk, then live appends including a torn write, then the exit', async () => {
      const path = store.pathFor('job3')
      writeFileSync(path, encodeOutput('stdout', at(0), 'one\n'))
      let exit!: (e: LogExit) => void
      const exited = new Promise<LogExit>((r) => (exit = r))
      const ac = new AbortController()
      const got: (LogRecord | { exit: LogExit })[] = []
      const done = (async () => {
        for await (const x of store.follow('job3', 0, ac.signal, { exited: () => exited })) got.push(x)
      })()
      await waitFor(() => got.length === 1)
      const rec = encodeOutput('stdout', at(1), 'two\n')
      appendFileSync(path, rec.subarray(0, 20)) // torn: the writer is mid-record
      await new Promise((r) => setTimeout(r, 100))
      expect(got).toHaveLength(1)
      appendFileSync(path, rec.subarray(20))
      appendFileSync(path, encodeOutput('stderr', at(2), 'three'))
      await waitFor(() => got.length === 3)
      exit({ exitCode: 3, signal: null })
      await done
      expect(got.slice(0, 3).map((r) => text([r as LogRecord]))).toEqual(['one\n', 'two\n', 'three'])
      expect(got[3]).toEqual({ exit: { exitCode: 3, signal: null } })
    })

    it('follow after the job ended yields everything, then the exit, from any offset', async () => {
      const path = store.pathFor('job4')
      writeFileSync(path, Buffer.concat([encodeOutput('stdout', at(0), 'abc\ndef\n'), encodeOutput('stderr', at(1), 'err\n')]))
      for (const from of [0, 2, 8, 12]) {
        const got = await collect(store.follow('job4', from, new AbortController().signal, { exited: async () => ({ exitCode: 0, signal: null }) }))
        expect(text(got.slice(0, -1) as LogRecord[])).toBe('abc\ndef\nerr\n'.slice(from))
        expect(got[got.length - 1]).toEqual({ exit: { exitCode: 0, signal: null } })
      }
    })

    it('follow of an exited job larger than one read chunk: chunk edges are not torn lines', async () => {
      const path = store.pathFor('job8')
      const out = Array.from({ length: 40000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}\n`).join('')
      writeFileSync(path, encodeOutput('stdout', at(0), out))
      const got = await collect(store.follow('job8', 0, new AbortController().signal, { exited: async () => ({ exitCode: 0, signal: null }) }))
      const recs = got.slice(0, -1) as LogRecord[]
      expect(text(recs)).toBe(out)
      for (let i = 1; i < recs.length; i++) expect(recs[i]!.offset).toBe(recs[i - 1]!.offset + recs[i - 1]!.data.length)
    })

    it('follow emits a torn final line once the job has exited', async () => {
      const path = store.pathFor('job5')
      writeFileSync(path, Buffer.concat([encodeOutput('stdout', at(0), 'abc\n'), encodeOutput('stdout', at(1), 'def\n').subarray(0, -1)]))
      const got = await collect(store.follow('job5', 0, new AbortController().signal, { exited: async () => ({ exitCode: 0, signal: null }) }))
      expect(text(got.slice(0, -1) as LogRecord[])).toBe('abc\ndef')
    })

    it('an aborted follow ends without the exit', async () => {
      store.pathFor('job6')
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 50)
      const got = await collect(store.follow('job6', 0, ac.signal, { exited: () => new Promise(() => {}) }))
      expect(got).toEqual([])
    })

    it('remove deletes the logs', async () => {
      writeFileSync(store.pathFor('job7'), encodeOutput('stdout', at(0), 'x\n'))
      await store.remove('job7')
      expect(await collect(store.read('job7'))).toEqual([])
    })
  })
}

export async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('waitFor: timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}
