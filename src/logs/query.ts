// Pure filters over decoded records: stream, since, tail N lines, coalescing.
import { invalidSince } from './errors.js'
import type { Stream } from './record.js'
import { parseDuration } from '../lib/units.js'

export interface LogRecord {
  /** Position of data[0] in the job's decoded output (stdout and stderr interleaved in file order). */
  offset: number
  stream: Stream
  time: Date
  data: Uint8Array
  /** A retention marker: the decoded bytes [from, to) were dropped by the size cap.
   *  data is empty and offset === to, so `offset + data.length` is still where to resume. */
  dropped?: { from: number; to: number }
}

export type StreamSelector = Stream | 'all'

export const matchesStream = (sel: StreamSelector | undefined, s: Stream) => !sel || sel === 'all' || sel === s

/** `since` as RFC3339 time or a duration back from now ("5m", "1h30m", "90" seconds). */
export function parseSince(input: string, now: Date): Date {
  const s = input.trim()
  if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const ms = Date.parse(s)
    if (Number.isNaN(ms)) throw invalidSince(input)
    return new Date(ms)
  }
  let total: number
  try {
    total = parseDuration(s, 'since')
  } catch {
    throw invalidSince(input)
  }
  return new Date(now.getTime() - total)
}

/** Finds where the last `n` lines begin, per stream, in one pass over records
 *  in file order. A line is the run of one stream's records up to one that
 *  ends in '\n' (conmon's P records are pieces of one line); an unterminated
 *  last line counts as a line, as in `docker logs --tail`. */
export class TailTracker {
  readonly #n: number
  readonly #sel: StreamSelector
  /** Completed lines in order of completion, at most n kept: [stream, startOffset]. */
  #done: [Stream, number][] = []
  #open: Partial<Record<Stream, number>> = {}
  #openSeq: Partial<Record<Stream, number>> = {}
  #seq = 0

  constructor(n: number, sel: StreamSelector = 'all') {
    this.#n = n
    this.#sel = sel
  }

  push(r: { offset: number; stream: Stream; data: Uint8Array }): void {
    if (!matchesStream(this.#sel, r.stream) || r.data.length === 0) return
    if (this.#open[r.stream] === undefined) {
      this.#open[r.stream] = r.offset
      this.#openSeq[r.stream] = this.#seq++
    }
    if (r.data[r.data.length - 1] === 0x0a) {
      this.#done.push([r.stream, this.#open[r.stream]!])
      if (this.#done.length > this.#n) this.#done.shift()
      this.#open[r.stream] = undefined
    }
  }

  /** Per stream, the first offset to output (Infinity: nothing of that stream). */
  starts(): Record<Stream, number> {
    const lines: [Stream, number][] = [...this.#done]
    // Unterminated lines end last, in the order they started.
    const open = (['stdout', 'stderr'] as const)
      .filter((s) => this.#open[s] !== undefined)
      .sort((a, b) => this.#openSeq[a]! - this.#openSeq[b]!)
    for (const s of open) lines.push([s, this.#open[s]!])
    const keep = this.#n === 0 ? [] : lines.slice(-this.#n)
    const out: Record<Stream, number> = { stdout: Infinity, stderr: Infinity }
    for (const [s, o] of keep) out[s] = Math.min(out[s], o)
    return out
  }
}

/** Merge runs of adjacent records of one stream (contiguous offsets) into records of
 *  at most `max` bytes. Offsets stay exact; the merged record takes the first time. */
export function coalesce(records: LogRecord[], max: number): LogRecord[] {
  if (max <= 0 || records.length < 2) return records
  const out: LogRecord[] = []
  let run: LogRecord[] = []
  let runBytes = 0
  const flush = () => {
    if (run.length === 1) out.push(run[0]!)
    else if (run.length > 1) out.push({ offset: run[0]!.offset, stream: run[0]!.stream, time: run[0]!.time, data: Buffer.concat(run.map((r) => r.data)) })
    run = []
    runBytes = 0
  }
  for (const r of records) {
    const last = run[run.length - 1]
    const joins = last && !r.dropped && !last.dropped && last.stream === r.stream && last.offset + last.data.length === r.offset && runBytes + r.data.length <= max
    if (!joins) flush()
    run.push(r)
    runBytes += r.data.length
  }
  flush()
  return out
}
