// conmon's k8s-file format (containers/conmon src/ctr_logging.c, write_k8s_log):
//
//   <RFC3339Nano local time> <stdout|stderr> <F|P> <bytes>\n
//
//  - conmon reads the container's pipes in chunks of at most 8192 bytes
//    (STDIO_BUF_SIZE) and writes one record per line of the chunk.
//  - F: the record ends a line. The line's own '\n' IS the record terminator,
//    so the decoded bytes are <bytes> + '\n'.
//  - P: a partial line (end of chunk without newline, e.g. a line longer than
//    8192 bytes, or output not ending in '\n'); conmon appends a '\n' that is
//    not part of the output, so the decoded bytes are <bytes>.
//  - Bytes are raw: '\r', NUL and invalid UTF-8 are written as is. A record
//    can never contain '\n' except as its terminator, so records are split on
//    '\n' alone.
//  - Checked empirically with conmon 2.1.6 + crun 1.8.1 (test/integration/logs).
//
// The decoded output of a job is the concatenation of the decoded bytes of
// all its records, in file order. A record's offset is the position of its
// first decoded byte in that concatenation: stable forever, because it only
// depends on the bytes before it, which never change.

export type Stream = 'stdout' | 'stderr'

/** One parsed line of the file, with positions relative to the parsed buffer. */
export interface RawRecord {
  stream: Stream
  /** The timestamp text as conmon wrote it. */
  ts: string
  partial: boolean
  /** Decoded bytes: [dataStart, dataEnd) of the buffer. */
  dataStart: number
  dataEnd: number
  /** The whole line including its terminator: [lineStart, lineEnd) of the buffer. */
  lineStart: number
  lineEnd: number
}

export interface ParseResult {
  records: RawRecord[]
  /** Bytes of the buffer consumed (complete lines only). */
  consumed: number
  /** Complete lines that did not look like conmon records (skipped). */
  malformed: number
}

const NL = 0x0a
const SP = 0x20

/** Parse the complete lines of `buf`. A torn last line (no '\n' yet, the
 *  writer is mid-write) is left unconsumed unless `final` is set, in which
 *  case a well-formed torn line becomes a partial record. */
export function parseRecords(buf: Uint8Array, opts: { final?: boolean; start?: number; end?: number } = {}): ParseResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  const end = opts.end ?? b.length
  const records: RawRecord[] = []
  let pos = opts.start ?? 0
  let malformed = 0
  while (pos < end) {
    let nl = b.indexOf(NL, pos)
    const torn = nl < 0 || nl >= end
    if (torn && !opts.final) break
    if (torn) nl = end
    const r = parseLine(b, pos, nl, torn)
    if (r) records.push(r)
    else malformed++
    pos = torn ? end : nl + 1
  }
  return { records, consumed: pos - (opts.start ?? 0), malformed }
}

/**
 * Retention's walk: the decoded bytes of the complete lines in b[0, end),
 * stopping before the first line that starts at or after `stopAt`. The same
 * rules as parseLine, without building a record per line (no allocation: the
 * walk must outrun a job writing 300 MB/s). Malformed lines count 0 bytes,
 * as parseRecords drops them.
 */
export function scanDecoded(b: Buffer, end: number, stopAt: number): { consumed: number; decoded: number } {
  let pos = 0
  let decoded = 0
  while (pos < end && pos < stopAt) {
    const nl = b.indexOf(NL, pos)
    if (nl < 0 || nl >= end) break
    const s1 = b.indexOf(SP, pos)
    if (s1 >= 0 && s1 < nl && s1 - pos >= 20 && s1 - pos <= 64 && s1 + 10 <= nl && b[s1 + 1] === 0x73 && b[s1 + 2] === 0x74 && b[s1 + 3] === 0x64 && b[s1 + 7] === SP && b[s1 + 9] === SP &&
      ((b[s1 + 4] === 0x6f && b[s1 + 5] === 0x75 && b[s1 + 6] === 0x74) || (b[s1 + 4] === 0x65 && b[s1 + 5] === 0x72 && b[s1 + 6] === 0x72))) {
      const tag = b[s1 + 8]
      if (tag === 0x46) decoded += nl + 1 - (s1 + 10)
      else if (tag === 0x50) decoded += nl - (s1 + 10)
    }
    pos = nl + 1
  }
  return { consumed: pos, decoded }
}

/** Parse one line [start, nl) where b[nl] is its '\n' (or nl === end of a torn line). */
function parseLine(b: Buffer, start: number, nl: number, torn: boolean): RawRecord | undefined {
  const s1 = b.indexOf(SP, start)
  if (s1 < 0 || s1 >= nl || s1 - start < 20 || s1 - start > 64) return undefined
  // "<ts> stdout F <data>": the header after the timestamp is 10 bytes
  if (s1 + 10 > nl) return undefined
  if (b[s1 + 1] !== 0x73 /* s */ || b[s1 + 2] !== 0x74 /* t */ || b[s1 + 3] !== 0x64 /* d */ || b[s1 + 7] !== SP || b[s1 + 9] !== SP) return undefined
  let stream: Stream
  if (b[s1 + 4] === 0x6f && b[s1 + 5] === 0x75 && b[s1 + 6] === 0x74) stream = 'stdout'
  else if (b[s1 + 4] === 0x65 && b[s1 + 5] === 0x72 && b[s1 + 6] === 0x72) stream = 'stderr'
  else return undefined
  const tag = b[s1 + 8]
  if (tag !== 0x46 /* F */ && tag !== 0x50 /* P */) return undefined
  const partial = tag === 0x50 || torn
  const dataStart = s1 + 10
  // F keeps its '\n' (it is the output's newline); P drops conmon's added '\n'.
  const dataEnd = partial ? nl : nl + 1
  return { stream, ts: b.toString('latin1', start, s1), partial, dataStart, dataEnd, lineStart: start, lineEnd: torn ? nl : nl + 1 }
}

/** A run of decoded bytes of one stream: one record, or several adjacent ones merged. */
export interface DecodedRun {
  stream: Stream
  /** The timestamp text of the run's first record, as conmon wrote it. */
  ts: string
  /** Decoded offset of data[0]. */
  offset: number
  /** A view of the parsed buffer (merged runs were moved together in place). */
  data: Buffer
}

export interface DecodeResult {
  runs: DecodedRun[]
  /** Bytes of the buffer consumed (complete lines, or everything when final). */
  consumed: number
  /** Decoded offset after the consumed lines. */
  offset: number
  malformed: number
}

/**
 * The hot path of reading a log: decode the complete lines of buf[0, end)
 * whose first decoded byte is `offset`, yielding only bytes at or after
 * `from` (a record straddling it is cut there). With `coalesce` > 0, adjacent
 * records of one stream are merged into runs of at most that many bytes by
 * moving their data together IN PLACE (each record's data only ever moves
 * left, over headers already parsed), so a 100 MB log becomes a few hundred
 * buffer views instead of ~400k objects, with one move per line (a byte loop
 * for short lines, where a native call costs more) and no
 * per-line string. Without `coalesce`, one run per record (zero copy).
 * The buffer's bytes are overwritten: the caller must own it.
 */
export function decodeLines(buf: Buffer, o: { end: number; offset: number; from: number; final?: boolean; coalesce?: number }): DecodeResult {
  const b = buf
  const end = o.end
  const max = o.coalesce ?? 0
  const from = o.from
  const runs: DecodedRun[] = []
  let offset = o.offset
  let pos = 0
  let malformed = 0
  // the open run: [runStart, runEnd) of b, its stream, first offset and timestamp position
  let runStart = -1
  let runEnd = 0
  let runStream: Stream = 'stdout'
  let runOffset = 0
  let runTsStart = 0
  let runTsEnd = 0
  const flush = () => {
    if (runStart >= 0) runs.push({ stream: runStream, ts: b.toString('latin1', runTsStart, runTsEnd), offset: runOffset, data: b.subarray(runStart, runEnd) })
    runStart = -1
  }
  while (pos < end) {
    let nl = b.indexOf(NL, pos)
    const torn = nl < 0 || nl >= end
    if (torn && !o.final) break
    if (torn) nl = end
    const start = pos
    pos = torn ? end : nl + 1
    // header: "<ts> std(out|err) (F|P) "; conmon's timestamps have one length, so
    // try the previous line's before searching
    const s1 = b.indexOf(SP, start)
    if (s1 < 0 || s1 - start < 20 || s1 - start > 64 || s1 + 10 > nl || b[s1 + 1] !== 0x73 || b[s1 + 2] !== 0x74 || b[s1 + 3] !== 0x64 || b[s1 + 7] !== SP || b[s1 + 9] !== SP) {
      malformed++
      continue
    }
    let stream: Stream
    const c4 = b[s1 + 4]
    if (c4 === 0x6f && b[s1 + 5] === 0x75 && b[s1 + 6] === 0x74) stream = 'stdout'
    else if (c4 === 0x65 && b[s1 + 5] === 0x72 && b[s1 + 6] === 0x72) stream = 'stderr'
    else {
      malformed++
      continue
    }
    const tag = b[s1 + 8]
    if (tag !== 0x46 /* F */ && tag !== 0x50 /* P */) {
      malformed++
      continue
    }
    let ds = s1 + 10
    const de = tag === 0x50 || torn ? nl : nl + 1
    const recOffset = offset
    offset += de - ds
    if (offset <= from || de === ds) continue
    if (recOffset < from) ds += from - recOffset
    const len = de - ds
    const at = recOffset < from ? from : recOffset
    if (runStart >= 0 && max > 0 && stream === runStream && runOffset + (runEnd - runStart) === at && runEnd - runStart + len <= max) {
      if (len <= 32) for (let i = ds; i < de; i++) b[runEnd++] = b[i]! // a native call costs more than a short loop
      else {
        b.copy(b, runEnd, ds, de)
        runEnd += len
      }
      continue
    }
    flush()
    runStart = ds
    runEnd = de
    runStream = stream
    runOffset = at
    runTsStart = start
    runTsEnd = s1
  }
  flush()
  return { runs, consumed: pos, offset, malformed }
}

/** Parse conmon's timestamp; memoised because conmon stamps every line of a chunk alike. */
export function makeTimeParser(): (ts: string) => Date {
  let lastTs = ''
  let last = new Date(0)
  return (ts) => {
    if (ts !== lastTs) {
      const ms = Date.parse(ts)
      last = new Date(Number.isNaN(ms) ? 0 : ms)
      lastTs = ts
    }
    return last
  }
}

/** Encode records in conmon's format (for tests, and for tools that write logs). */
export function encodeRecord(r: { stream: Stream; time: Date | string; data: Uint8Array | string; partial?: boolean }): Buffer {
  const ts = typeof r.time === 'string' ? r.time : formatTs(r.time)
  const data = typeof r.data === 'string' ? Buffer.from(r.data) : Buffer.from(r.data)
  const partial = r.partial ?? data[data.length - 1] !== NL
  if (!partial && data.indexOf(NL) !== data.length - 1) throw new Error('encodeRecord: an F record holds exactly one line')
  if (partial && data.includes(NL)) throw new Error('encodeRecord: a P record cannot hold a newline')
  return Buffer.concat([Buffer.from(`${ts} ${r.stream} ${partial ? 'P' : 'F'} `, 'latin1'), data, partial ? Buffer.from('\n') : Buffer.alloc(0)])
}

/** Split output into records the way conmon does: per chunk of at most `chunk` bytes, one record per line. */
export function encodeOutput(stream: Stream, time: Date, data: Uint8Array | string, chunk = 8192): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
  const out: Buffer[] = []
  for (let c = 0; c < b.length; c += chunk) {
    const part = b.subarray(c, Math.min(b.length, c + chunk))
    let p = 0
    while (p < part.length) {
      const nl = part.indexOf(NL, p)
      const e = nl < 0 ? part.length : nl + 1
      out.push(encodeRecord({ stream, time, data: part.subarray(p, e), partial: nl < 0 }))
      p = e
    }
  }
  return Buffer.concat(out)
}

/** RFC3339 with nanoseconds, UTC, as conmon writes it (with +00:00). */
export function formatTs(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000+00:00')
}
