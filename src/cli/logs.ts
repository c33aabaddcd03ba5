import type { Client } from './client.js'

export interface FollowOptions {
  follow?: boolean
  tail?: string
  since?: string
  timestamps?: boolean
  stream?: string
  signal?: AbortSignal
  /** `idOrName` is the job's id already (skips the lookup that pins a name to its job) */
  isId?: boolean
}

/** The last record of a follow: how the job ended. */
export interface LogExit {
  exitCode: number | null
  signal: string | null
  state?: string
  reason?: string | null
}

interface WireRecord {
  offset: number
  stream: 'stdout' | 'stderr'
  time: string
  data?: string
  /** base64 when the bytes are not valid UTF-8 */
  data64?: string
  exit?: LogExit
}

/** Where a follow got to: the resume offset and, at the end, the exit record. */
export interface FollowState {
  from?: number
  exit?: LogExit
}

/** NDJSON lines of a body as they come (a line split across chunks is joined). */
export async function* ndjsonLines(body: AsyncIterable<Buffer>): AsyncGenerator<unknown> {
  let buf = ''
  for await (const chunk of body) {
    buf += chunk.toString('utf8')
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line) yield JSON.parse(line)
    }
  }
}

/** Write the records of a logs stream to our stdout/stderr (streams kept apart),
 *  keeping the resume offset and the exit in `st`. */
export async function writeRecords(lines: AsyncIterable<unknown>, st: FollowState, o: { timestamps?: boolean } = {}): Promise<void> {
  for await (const line of lines) {
    const r = line as WireRecord
    if (r.exit !== undefined) st.exit = r.exit
    if (r.exit !== undefined || (r.data === undefined && r.data64 === undefined)) continue
    const bytes = r.data64 !== undefined ? Buffer.from(r.data64, 'base64') : Buffer.from(r.data!, 'utf8')
    const out = r.stream === 'stderr' ? process.stderr : process.stdout
    if (o.timestamps) out.write(`${r.time} `)
    if (!out.write(bytes)) await new Promise((res) => out.once('drain', res))
    st.from = r.offset + bytes.length
  }
}

/** Stream a job's output to our stdout/stderr, keeping the streams apart.
 *  On a dropped connection while following, resume from the last offset
 *  (`from`: where an earlier stream of it stopped). Resolves with the exit record
 *  when following to the end. */
export async function followLogs(c: Client, idOrName: string, o: FollowOptions & { from?: number }): Promise<LogExit | undefined> {
  const id = o.isId ? idOrName : (await c.json<{ id: string }>('GET', `/jobs/${encodeURIComponent(idOrName)}`)).id
  const st: FollowState = o.from === undefined ? {} : { from: o.from }
  for (let attempt = 0; ; attempt++) {
    const qs = new URLSearchParams()
    if (o.follow) qs.set('follow', 'true')
    if (o.tail && st.from === undefined) qs.set('tail', o.tail)
    if (o.since && st.from === undefined) qs.set('since', o.since)
    if (o.stream) qs.set('stream', o.stream)
    if (st.from !== undefined) qs.set('from', String(st.from))
    try {
      const res = await c.raw('GET', `/jobs/${encodeURIComponent(id)}/logs?${qs}`, { headers: { accept: 'application/x-ndjson' }, signal: o.signal })
      await writeRecords(ndjsonLines(res.body), st, o)
      return st.exit
    } catch (e) {
      if (o.signal?.aborted) return undefined
      if (!o.follow || attempt >= 5 || (e as { kind?: string }).kind === 'not_found') throw e
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)))
    }
  }
}
