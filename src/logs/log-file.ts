// The on-disk log of one job: <root>/<jobId>/container.log written by conmon
// (append-only, never truncated, never rotated by conmon), plus retention.json
// written by us. Retention drops the oldest whole segments by punching a hole
// (fallocate FALLOC_FL_PUNCH_HOLE) over [0, cut): the disk blocks are freed,
// while file positions — and so every offset — stay exactly what they were,
// and conmon keeps appending through its O_APPEND fd without noticing.
// A cut is always a record boundary, so no record is torn; a long line split
// into P records across the cut loses only the pieces inside the marked range.
import { existsSync } from 'node:fs'
import { open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { exec } from '../lib/exec.js'
import { nativeSys } from '../lib/native.js'
import { compactFailed } from './errors.js'
import type { LogRecord } from './query.js'
import { decodeLines, makeTimeParser, scanDecoded } from './record.js'

export const LOG_FILE = 'container.log'
export const META_FILE = 'retention.json'

/** The first retained record: file position and decoded offset. Everything
 *  before it (decoded [0, offsetStart)) was dropped by the size cap. */
export interface RetentionMeta {
  fileStart: number
  offsetStart: number
  /** decoded bytes dropped because the data dir's filesystem was full (not by the cap) */
  noSpaceDropped?: number
}

export interface Checkpoint {
  filePos: number
  offset: number
}

/** Per-job state shared by every reader in this process. */
export interface JobLog {
  dir: string
  path: string
  meta: RetentionMeta
  /** Record boundaries seen so far, ascending, about every CHECKPOINT_EVERY file bytes: resume without rescanning. */
  checkpoints: Checkpoint[]
  /** [0, punchedTo) was punched by this process (absent: nothing yet; the next punch starts at 0). */
  punchedTo?: number
  /** the meta file exists (ensureMetaFile) */
  metaFile?: boolean
}

const CHECKPOINT_EVERY = 1 << 20
/** File bytes per read (a follower far behind reads this much per step). */
export const DEFAULT_CHUNK = 1024 * 1024
const FIRST_READ = 64 * 1024
const MAX_LINE = 1 << 20 // conmon lines are ≤ 8192 + header; anything longer is not conmon's

export async function loadMeta(dir: string): Promise<RetentionMeta> {
  // the common case, a log retention never touched: one stat, not a failed async open
  if (!existsSync(join(dir, META_FILE))) return { fileStart: 0, offsetStart: 0 }
  try {
    const m = JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as RetentionMeta
    if (Number.isSafeInteger(m.fileStart) && Number.isSafeInteger(m.offsetStart)) return m
  } catch {
    /* no retention yet */
  }
  return { fileStart: 0, offsetStart: 0 }
}

/** Latest checkpoint usable to reach `offset`. */
export function startFor(log: JobLog, offset: number): Checkpoint {
  let best: Checkpoint = { filePos: log.meta.fileStart, offset: log.meta.offsetStart }
  for (const c of log.checkpoints) {
    if (c.offset > offset) break
    if (c.filePos >= log.meta.fileStart) best = c
  }
  return best
}

function addCheckpoint(log: JobLog, c: Checkpoint) {
  const last = log.checkpoints[log.checkpoints.length - 1]
  if (c.filePos - (last?.filePos ?? 0) < CHECKPOINT_EVERY) return
  if (last && c.filePos <= last.filePos) return
  log.checkpoints.push(c)
}

/**
 * Reads records from a record boundary onwards, one bounded chunk at a time.
 * Reads go into a slab (2 chunks) that is handed out piecewise: the
 * records are views of it, so a reader tailing a live file with many small
 * reads does not allocate a chunk per read. Memory: the slabs still referenced
 * by records the caller holds. A torn last line is re-read on the next call
 * rather than buffered. `coalesce`: merge adjacent records of one stream into
 * records of at most that many bytes (see decodeLines).
 */
export class LogCursor {
  readonly #log: JobLog
  #fd: FileHandle | undefined
  #filePos: number
  #offset: number
  #from: number
  #chunk: number
  /** the next read's size: from 64 KiB up to #chunk while reads come back full */
  #readSize: number
  #coalesce: number
  #time = makeTimeParser()
  #closed = false
  #slab: Buffer | undefined
  #slabUsed = 0
  #eof = false

  constructor(log: JobLog, from: number, opts: { chunk?: number; coalesce?: number } = {}) {
    this.#log = log
    this.#from = Math.max(0, from)
    const s = startFor(log, this.#from)
    this.#filePos = s.filePos
    this.#offset = s.offset
    // Asked for bytes that retention already dropped: the first next() yields the marker.
    if (this.#from < log.meta.offsetStart) (this.#filePos = -1), (this.#offset = 0)
    this.#chunk = opts.chunk ?? DEFAULT_CHUNK
    // Most logs are small (every ?wait=true reads one): a 2 MiB slab for 20 bytes of output
    // is 2 MiB of garbage per request. Reads start small and grow 4x while they come back full.
    this.#readSize = Math.min(FIRST_READ, this.#chunk)
    this.#coalesce = opts.coalesce ?? 0
  }

  /** Decoded offset of the next byte this cursor will yield. */
  get offset(): number {
    return Math.max(this.#offset, this.#from)
  }

  /** The last read came back short and was consumed whole: the file ended there
   *  (a reader of a finished log can stop without one more read to see 0 bytes). */
  get atEof(): boolean {
    return this.#eof
  }

  /** Decoded offset of the next record on disk (ignores `from`). */
  get position(): number {
    return this.#offset
  }

  /** `size` bytes of the slab nobody references yet. */
  #take(size: number): Buffer {
    if (!this.#slab || this.#slab.length - this.#slabUsed < size) {
      this.#slab = Buffer.allocUnsafeSlow(Math.max(size, this.#readSize * 2))
      this.#slabUsed = 0
    }
    return this.#slab.subarray(this.#slabUsed, this.#slabUsed + size)
  }

  /** Records from the current position, at most one chunk of file; [] at EOF.
   *  `final`: the writer is gone, so a torn last line is a (partial) record. */
  async next(opts: { final?: boolean } = {}): Promise<LogRecord[]> {
    for (;;) {
      const out: LogRecord[] = []
      const gap = this.#checkDropped()
      if (gap) out.push(gap)
      const fd = await this.#open()
      if (!fd) return out
      let size = this.#readSize
      let buf: Buffer
      let n: number
      for (;;) {
        buf = this.#take(size)
        ;({ bytesRead: n } = await fd.read(buf, 0, size, this.#filePos))
        // A line longer than the chunk: read more (bounded) rather than tear it.
        if (n === size && buf.indexOf(0x0a) < 0) {
          if (size < MAX_LINE) {
            size *= 4
            continue
          }
          // No conmon line is this long: what conmon 2.1.6 leaves after a write that
          // failed with ENOSPC (it drops single iovec segments, newlines among them).
          // Skipped as a malformed line, as decodeLines skips a bad header: no decoded bytes.
          const past = await lineEnd(fd, this.#filePos + n)
          if (past === undefined) {
            if (!opts.final) return out
            this.#eof = true
            return out
          }
          this.#filePos = past
          size = this.#readSize
          continue
        }
        break
      }
      // Retention may have moved the start while we were reading: those bytes may be a hole now.
      if (this.#log.meta.fileStart > this.#filePos) continue
      if (n === 0) {
        this.#eof = true
        return out
      }
      if (n === size && size < this.#chunk) this.#readSize = Math.min(size * 4, this.#chunk)
      // Only a line torn at EOF can be final: a chunk boundary inside a line is not a tear.
      const res = decodeLines(buf, { end: n, offset: this.#offset, from: this.#from, final: opts.final && n < size, coalesce: this.#coalesce })
      for (const r of res.runs) out.push({ offset: r.offset, stream: r.stream, time: this.#time(r.ts), data: r.data })
      this.#slabUsed += res.consumed // the records are views of these bytes: never reuse them
      this.#eof = n < size && res.consumed === n
      this.#filePos += res.consumed
      this.#offset = res.offset
      addCheckpoint(this.#log, { filePos: this.#filePos, offset: this.#offset })
      if (out.length || res.consumed === 0) return out
      // a whole chunk before `from`: keep going
    }
  }

  /** A marker when the bytes this cursor is about to read were dropped. */
  #checkDropped(): LogRecord | undefined {
    const m = this.#log.meta
    if (this.#filePos >= m.fileStart) return undefined
    const from = Math.max(this.#offset, this.#from)
    this.#filePos = m.fileStart
    this.#offset = m.offsetStart
    if (from >= m.offsetStart) return undefined
    return { offset: m.offsetStart, stream: 'stderr', time: new Date(), data: Buffer.alloc(0), dropped: { from, to: m.offsetStart } }
  }

  async #open(): Promise<FileHandle | undefined> {
    if (this.#closed) return undefined
    if (this.#fd) return this.#fd
    try {
      this.#fd = await open(this.#log.path, 'r')
      return this.#fd
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    const fd = this.#fd
    this.#fd = undefined
    await fd?.close()
  }
}

/** The file position just past the next '\n' at or after `pos`; undefined: none before EOF. */
async function lineEnd(fd: FileHandle, pos: number): Promise<number | undefined> {
  const b = Buffer.allocUnsafe(1 << 16)
  for (;;) {
    const { bytesRead } = await fd.read(b, 0, b.length, pos)
    if (bytesRead === 0) return undefined
    const i = b.subarray(0, bytesRead).indexOf(0x0a)
    if (i >= 0) return pos + i + 1
    pos += bytesRead
  }
}

/** Publish new retention meta: a new file renamed over the old one (a crash leaves
 *  one or the other), or — when the filesystem is full, which is when a
 *  compaction is needed most — written into the existing file's first block,
 *  which needs no new space (ensureMetaFile made it early; the meta is < 512
 *  bytes, one sector). */
async function writeMeta(dir: string, meta: RetentionMeta): Promise<void> {
  const body = JSON.stringify(meta)
  const tmp = join(dir, `${META_FILE}.tmp`)
  try {
    await writeFile(tmp, body)
    await rename(tmp, join(dir, META_FILE))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e
    await unlink(tmp).catch(() => {})
    const fh = await open(join(dir, META_FILE), 'r+')
    try {
      const b = Buffer.from(body.padEnd(META_PAD))
      await fh.write(b, 0, b.length, 0)
      await fh.truncate(b.length)
    } finally {
      await fh.close()
    }
  }
}

/** In-place meta writes pad to this: the file never needs a second block. */
const META_PAD = 256

/** The meta file with its one block, made while there is room (off the start path:
 *  the log's first cap check), so a compaction on a full filesystem can be published. */
export async function ensureMetaFile(log: JobLog): Promise<void> {
  if (log.metaFile) return
  const p = join(log.dir, META_FILE)
  if (!existsSync(p)) await writeFile(p, JSON.stringify(log.meta).padEnd(META_PAD), { flag: 'wx' }).catch(() => {})
  log.metaFile = existsSync(p)
}

/** Pure: where to cut so the retained file is at most maxBytes, dropping whole
 *  segments (file positions [k·segment, (k+1)·segment)); undefined: nothing to drop. */
export function planCut(p: { size: number; fileStart: number; maxBytes: number; segmentBytes: number }): number | undefined {
  if (p.size - p.fileStart <= p.maxBytes) return undefined
  const target = Math.ceil((p.size - p.maxBytes) / p.segmentBytes) * p.segmentBytes
  return target > p.fileStart ? target : undefined
}

/** Enforce the size cap on one job's log. Returns the new meta when something was dropped. */
export async function compact(log: JobLog, opts: { maxBytes: number; segmentBytes: number; noSpace?: boolean }): Promise<RetentionMeta | undefined> {
  let fd: FileHandle
  const punch = nativeSys()?.punchHole
  try {
    // writable only to punch the hole through it (conmon keeps appending through its own O_APPEND fd)
    fd = await open(log.path, punch ? 'r+' : 'r')
  } catch {
    return undefined
  }
  try {
    const { size } = await fd.stat()
    const target = planCut({ size, fileStart: log.meta.fileStart, maxBytes: opts.maxBytes, segmentBytes: opts.segmentBytes })
    if (target === undefined) return undefined
    // Walk records from the best known boundary to the first one ≥ target, counting decoded bytes.
    let pos = log.meta.fileStart
    let offset = log.meta.offsetStart
    for (const c of log.checkpoints) if (c.filePos <= target && c.filePos >= pos) ({ filePos: pos, offset } = c)
    const buf = Buffer.allocUnsafe(1024 * 1024)
    while (pos < target) {
      const { bytesRead } = await fd.read(buf, 0, buf.length, pos)
      const res = scanDecoded(buf, bytesRead, target - pos)
      if (res.consumed === 0 && bytesRead === buf.length) {
        // a line longer than MAX_LINE: no decoded bytes, as for LogCursor
        const past = await lineEnd(fd, pos + bytesRead)
        if (past === undefined) break
        pos = past
        continue
      }
      if (res.consumed === 0) break // EOF or a torn line: cut at the last whole record
      offset += res.decoded
      pos += res.consumed
    }
    if (pos <= log.meta.fileStart) return undefined
    // the first compaction in this process punches from 0: a crash between the
    // meta write and the punch must not leave blocks behind for good
    const from = log.punchedTo ?? 0
    const lost = (log.meta.noSpaceDropped ?? 0) + (opts.noSpace ? offset - log.meta.offsetStart : 0)
    const meta: RetentionMeta = { fileStart: pos, offsetStart: offset, ...(lost ? { noSpaceDropped: lost } : {}) }
    await writeMeta(log.dir, meta)
    // Readers check meta after every read: publish before the bytes disappear.
    log.meta = meta
    log.checkpoints = log.checkpoints.filter((c) => c.filePos >= pos)
    try {
      // the addon: a syscall; without it fallocate(1), a fork per compaction
      // only the new part: [0, from) is a hole already (punching it again walks its extents)
      if (punch) punch(fd.fd, from, pos - from)
      else await exec(['fallocate', '--punch-hole', '--offset', String(from), '--length', String(pos - from), log.path], { errorCode: 'LOG_COMPACT_FAILED' })
      log.punchedTo = pos
    } catch (e) {
      throw compactFailed(log.path, e)
    }
    return meta
  } finally {
    await fd.close()
  }
}
