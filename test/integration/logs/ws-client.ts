import { createHash } from 'node:crypto'
import WebSocket from 'ws'
import { decodeFrame } from '../../../src/logs/frame.js'
import { TOKEN } from './server.js'

export interface FollowResult {
  sha256: string
  bytes: number
  /** offset + length of the last record received: where to resume. */
  next: number
  exit?: unknown
  perStream: Record<'stdout' | 'stderr', Buffer[]>
  gaps: number
  dups: number
  /** Messages carrying data, by wire type. */
  frames: { binary: number; text: number }
}

/** Follow a job over WebSocket from `from`, hashing the data. Stops early (closing
 *  the socket abruptly) once `stopAfter` bytes were received. Checks offsets are
 *  contiguous: any gap or overlap is counted. */
export function wsFollow(
  port: number,
  job: string,
  opts: { from?: number; stopAfter?: number; hash?: ReturnType<typeof createHash>; keep?: boolean; state?: FollowResult; format?: 'json' | 'binary'; stream?: 'stdout' | 'stderr' } = {},
): Promise<FollowResult> {
  const from = opts.from ?? 0
  const hash = opts.hash ?? createHash('sha256')
  const st: FollowResult = opts.state ?? { sha256: '', bytes: 0, next: from, perStream: { stdout: [], stderr: [] }, gaps: 0, dups: 0, frames: { binary: 0, text: 0 } }
  return new Promise((resolve, reject) => {
    const fmt = (opts.format ? `&format=${opts.format}` : '') + (opts.stream ? `&stream=${opts.stream}` : '')
    const ws = new WebSocket(`ws://127.0.0.1:${port}/jobs/${job}/logs/ws?from=${from}${fmt}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    let received = 0
    ws.on('message', (raw: Buffer, isBinary) => {
      let m: { offset: number; stream: string }
      let b: Buffer
      if (isBinary) {
        const f = decodeFrame(raw)
        if (f.job !== undefined) return reject(new Error(`job id ${f.job} in a single-job frame`))
        m = f
        b = f.data
        st.frames.binary++
      } else {
        const j = JSON.parse(raw.toString())
        if (j.exit) {
          st.exit = j.exit
          return
        }
        if (j.error) return reject(new Error(JSON.stringify(j.error)))
        m = j
        b = j.data64 !== undefined ? Buffer.from(j.data64, 'base64') : Buffer.from(j.data, 'utf8')
        st.frames.text++
      }
      if (m.offset > st.next) st.gaps++
      if (m.offset < st.next) st.dups++
      st.next = m.offset + b.length
      st.bytes += b.length
      received += b.length
      hash.update(b)
      if (opts.keep) st.perStream[m.stream as 'stdout' | 'stderr'].push(b)
      if (opts.stopAfter !== undefined && received >= opts.stopAfter) {
        ws.terminate()
        resolve(st)
      }
    })
    ws.on('error', reject)
    ws.on('close', () => {
      if (opts.stopAfter === undefined || received < opts.stopAfter) {
        if (st.exit !== undefined) st.sha256 = hash.copy().digest('hex')
        resolve(st)
      }
    })
  })
}

/** Follow `job` to its end across disconnects: one connection per cut (dropped
 *  after that many bytes), each resuming from the last offset it saw, then one to
 *  the end. `formats[i]` is connection i's wire format (cuts.length + 1 of them). */
export async function wsFollowWithCuts(port: number, job: string, cuts: number[], formats: ('json' | 'binary' | undefined)[] = []): Promise<FollowResult> {
  const hash = createHash('sha256')
  let state: FollowResult | undefined
  for (const [i, stopAfter] of cuts.entries()) state = await wsFollow(port, job, { from: state?.next ?? 0, stopAfter, hash, state, format: formats[i] })
  return wsFollow(port, job, { from: state?.next ?? 0, hash, state, format: formats[cuts.length] })
}
