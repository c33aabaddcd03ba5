// GET /jobs/:id/logs — plain text (raw bytes) by default, NDJSON records with
// Accept: application/x-ndjson. Follow streams until the job has exited and
// every byte has been sent; NDJSON then ends with {"exit": {...}}.
import { isUtf8 } from 'node:buffer'
import { Hono } from 'hono'
import { z } from 'zod'
import { SkiffError } from '../../lib/errors.js'
import { parseSince, type LogExit, type LogRecord, type LogStore } from '../../logs/index.js'
import { boolString, query } from '../schemas/common.js'

/** Attempt n's output begins at `offset` in the job's log (one offset space for all attempts). */
export interface AttemptMark {
  n: number
  offset: number
}

export interface LogsRouteDeps {
  logs: LogStore
  jobs: {
    get(id: string): { id: string; state: string; interactive?: boolean } | undefined
    exited(id: string): Promise<{ exitCode: number | null; signal: string | null; state: string; reason?: string | null }>
    /** the job's attempts with the offsets where they begin (recorded before each starts) */
    attempts?(id: string): AttemptMark[]
    /** told when a new attempt's offset is recorded; returns the unsubscribe */
    onAttempt?(id: string, fn: (m: AttemptMark) => void): () => void
  }
}

/** What a logs query yields: records, the start of each restart's output
 *  (attempt ≥ 2; the first attempt starts the log), and the exit. */
export type LogItem = LogRecord | { exit: LogExit } | { attempt: AttemptMark }

/** One record on the wire (NDJSON line or WebSocket text message). Exactly one of
 *  `data` (the bytes, when they are valid UTF-8) or `data64` (base64) is set, so
 *  binary output round-trips exactly. `offset + bytes.length` is the resume point. */
export interface WireRecord {
  job?: string
  offset: number
  stream: 'stdout' | 'stderr'
  time: string
  data?: string
  data64?: string
  dropped?: { from: number; to: number }
}

export function toWire(r: LogRecord, job?: string): WireRecord {
  const b = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)
  const w: WireRecord = job === undefined ? { offset: r.offset, stream: r.stream, time: r.time.toISOString() } : { job, offset: r.offset, stream: r.stream, time: r.time.toISOString() }
  if (isUtf8(b)) w.data = b.toString('utf8')
  else w.data64 = b.toString('base64')
  if (r.dropped) w.dropped = r.dropped
  return w
}

/** toWire + JSON.stringify, straight into one Buffer (same keys, same order): the
 *  bulk of a record is its data, which is copied once instead of being scanned
 *  by JSON.stringify and re-encoded by the socket. `nl` appends '\n' (NDJSON). */
export function encodeWire(r: LogRecord, job?: string, nl = false): Buffer {
  const b = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)
  let head = job === undefined ? '{' : `{"job":${JSON.stringify(job)},`
  head += `"offset":${r.offset},"stream":"${r.stream}","time":"${r.time.toISOString()}",`
  const tail = (r.dropped ? `,"dropped":{"from":${r.dropped.from},"to":${r.dropped.to}}}` : '}') + (nl ? '\n' : '')
  if (isUtf8(b)) return Buffer.from(`${head}"data":${JSON.stringify(b.toString('utf8'))}${tail}`)
  const b64 = b.toString('base64')
  const headLen = Buffer.byteLength(head)
  const out = Buffer.allocUnsafe(headLen + 10 + b64.length + 1 + tail.length)
  let p = out.write(head, 0, 'utf8')
  p += out.write('"data64":"', p, 'latin1')
  p += out.write(b64, p, 'latin1')
  p += out.write('"', p, 'latin1')
  out.write(tail, p, 'latin1')
  return out
}

const digits = (field: string) => z.string().regex(/^\d+$/, `${field}: expected a non-negative integer`).transform(Number)
export const LogsQuery = z
  .object({
    stream: z.enum(['stdout', 'stderr', 'all']).optional(),
    tail: z.union([z.literal('all'), digits('tail')]).optional(),
    since: z.string().optional(),
    from: digits('from').optional(),
    timestamps: boolString.optional(),
    follow: boolString.optional(),
    attempt: z.string().regex(/^[1-9]\d*$/, 'attempt: expected an attempt number (1, 2, …)').transform(Number).optional(),
    token: z.string().optional(),
  })
  .strict()
export type LogsQuery = z.output<typeof LogsQuery>

const attemptNotFound = (id: string, n: number) => new SkiffError('not_found', 'ATTEMPT_NOT_FOUND', `job ${id} has no attempt ${n} with output`, { field: 'attempt' })

export const jobNotFound = (id: string) => new SkiffError('not_found', 'JOB_NOT_FOUND', `job ${id} not found`)

/** Coalesce records into ≤ 256 KiB for transports (one conmon line is ≤ 8 KiB). */
export const COALESCE = 256 * 1024

/** The records a logs query selects: read, or (follow) read then live, then the exit. */
/** `coalesce`: merge adjacent records of a stream (plain text and WebSocket); NDJSON keeps one record per conmon line. */
async function* selectRaw(d: LogsRouteDeps, id: string, q: LogsQuery & { sinceTime?: Date; coalesce?: boolean }, signal: AbortSignal): AsyncGenerator<LogRecord | { exit: LogExit }> {
  const since = q.sinceTime
  const tail = q.tail === 'all' ? undefined : q.tail
  const stream = q.stream ?? 'all'
  if (!q.follow) {
    yield* d.logs.read(id, { from: q.from, tail, since, stream, coalesceBytes: q.coalesce && tail === undefined && !since ? COALESCE : 0 })
    return
  }
  let from = q.from ?? 0
  if (tail !== undefined) {
    // --tail N -f: start at the first of the last N lines, or at the end for N = 0.
    let first: number | undefined
    for await (const r of d.logs.read(id, { from, tail, since, stream })) {
      first = r.offset
      break
    }
    from = first ?? (await d.logs.end(id))
  }
  for await (const r of d.logs.follow(id, from, signal, { exited: () => d.jobs.exited(id), stream, coalesceBytes: q.coalesce && !since ? COALESCE : 0 })) {
    if ('exit' in r || !since || r.time >= since || r.dropped) yield r
  }
}

type SelectQuery = LogsQuery & { sinceTime?: Date; coalesce?: boolean; markers?: boolean }

/** The records a logs query selects: read, or (follow) read then live, then the
 *  exit. `attempt` narrows it to one attempt's range of the log; `markers` adds
 *  an `{attempt}` item where each restart's output begins. */
export async function* selectRecords(d: LogsRouteDeps, id: string, q: SelectQuery, signal: AbortSignal): AsyncGenerator<LogItem> {
  if (q.attempt === undefined && !q.markers) return yield* selectRaw(d, id, q, signal)
  // subscribed before the list is read: an attempt starting in between is not missed
  const known = new Map<number, number>()
  const unsubscribe = d.jobs.onAttempt?.(id, (m) => known.set(m.n, m.offset))
  try {
    for (const m of d.jobs.attempts?.(id) ?? []) known.set(m.n, m.offset)
    if (q.attempt !== undefined) return yield* oneAttempt(d, id, q, q.attempt, known, signal)
    const start = q.from ?? 0
    const emitted = new Set<number>()
    const pending = function* (upTo: number) {
      for (const [n, offset] of [...known].sort((a, b) => a[0] - b[0]))
        if (n >= 2 && !emitted.has(n) && offset >= start && offset <= upTo) {
          emitted.add(n)
          yield { attempt: { n, offset } }
        }
    }
    for await (const item of selectRaw(d, id, q, signal)) {
      yield* pending('exit' in item ? Infinity : item.offset)
      yield item
    }
  } finally {
    unsubscribe?.()
  }
}

/** One attempt's output: [its offset, the next attempt's offset). */
async function* oneAttempt(d: LogsRouteDeps, id: string, q: SelectQuery, n: number, known: Map<number, number>, signal: AbortSignal): AsyncGenerator<LogItem> {
  const lo = known.get(n)
  if (lo === undefined) throw attemptNotFound(id, n)
  const tail = q.tail === 'all' ? undefined : q.tail
  const ranged = selectRaw(d, id, { ...q, from: Math.max(lo, q.from ?? 0), tail: undefined, coalesce: q.coalesce && tail === undefined }, signal)
  const last: LogRecord[] = []
  for await (const item of ranged) {
    const hi = known.get(n + 1) ?? Infinity
    if ('exit' in item) {
      yield* last
      return yield item
    }
    if (item.offset >= hi) break
    const r = item.offset + item.data.length > hi ? { ...item, data: item.data.subarray(0, hi - item.offset) } : item
    if (tail === undefined) yield r
    else {
      // one record per line here (no coalescing): keep the last `tail` of them
      last.push(r)
      if (last.length > tail) last.shift()
    }
  }
  yield* last
}

/** Encode selected records as plain text or NDJSON into a byte stream with backpressure
 *  (`head`: bytes sent before them). */
function encodeStream(items: AsyncGenerator<LogItem>, ac: AbortController, o: { ndjson: boolean; timestamps: boolean; head?: Buffer }): ReadableStream<Uint8Array> {
  let head = o.head
  const atLineStart = { stdout: true, stderr: true }
  const encode = (r: LogItem): Buffer | undefined => {
    if ('exit' in r) return o.ndjson ? Buffer.from(JSON.stringify({ exit: r.exit }) + '\n') : undefined
    if ('attempt' in r) return o.ndjson ? Buffer.from(JSON.stringify({ attempt: r.attempt }) + '\n') : undefined
    if (o.ndjson) return encodeWire(r, undefined, true)
    if (r.dropped || r.data.length === 0) return undefined
    const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)
    if (!o.timestamps) return data
    // Prefix each line start of this stream with its record's time.
    const ts = Buffer.from(r.time.toISOString() + ' ')
    const parts: Buffer[] = []
    let p = 0
    while (p < data.length) {
      if (atLineStart[r.stream]) parts.push(ts)
      const nl = data.indexOf(0x0a, p)
      const e = nl < 0 ? data.length : nl + 1
      parts.push(data.subarray(p, e))
      atLineStart[r.stream] = nl >= 0
      p = e
    }
    return Buffer.concat(parts)
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        if (head) {
          ctl.enqueue(head)
          head = undefined
          return
        }
        for (;;) {
          const n = await items.next()
          if (n.done) return ctl.close()
          const b = encode(n.value)
          if (b?.length) return ctl.enqueue(b)
        }
      },
      async cancel() {
        ac.abort()
        await items.return(undefined)
      },
    },
    { highWaterMark: 1 },
  )
}

/** A job's whole output as NDJSON, followed to its exit, after `head` (one JSON line):
 *  POST /run?follow=true — a foreground run in one round trip. */
export function followBody(d: LogsRouteDeps, id: string, signal: AbortSignal | undefined, head: unknown): ReadableStream<Uint8Array> {
  const ac = new AbortController()
  signal?.addEventListener('abort', () => ac.abort(), { once: true })
  const items = selectRecords(d, id, { follow: true, markers: true }, ac.signal)
  return encodeStream(items, ac, { ndjson: true, timestamps: false, head: Buffer.from(JSON.stringify(head) + '\n') })
}

export function logsRoutes(d: LogsRouteDeps) {
  return new Hono().get('/jobs/:id/logs', async (c) => {
    const q = query(c, LogsQuery)
    // by id or by name: logs live under the job's id
    const id = d.jobs.get(c.req.param('id'))?.id
    if (!id) throw jobNotFound(c.req.param('id'))
    // checked before the response starts: an error inside the stream could only cut it
    if (q.attempt !== undefined && d.jobs.attempts && !d.jobs.attempts(id).some((a) => a.n === q.attempt)) throw attemptNotFound(id, q.attempt)
    const ndjson = (c.req.header('accept') ?? '').includes('application/x-ndjson')
    const ac = new AbortController()
    c.req.raw.signal?.addEventListener('abort', () => ac.abort(), { once: true })
    const sinceTime = q.since === undefined ? undefined : parseSince(q.since, new Date())
    const items = selectRecords(d, id, { ...q, sinceTime, coalesce: !ndjson && !q.timestamps, markers: ndjson }, ac.signal)
    const body = encodeStream(items, ac, { ndjson, timestamps: q.timestamps ?? false })
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': ndjson ? 'application/x-ndjson' : 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    })
  })
}
