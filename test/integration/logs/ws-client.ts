import { createHash } from 'node:crypto'
import WebSocket from 'ws'
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
}

/** Follow a job over WebSocket from `from`, hashing the data. Stops early (closing
 *  the socket abruptly) once `stopAfter` bytes were received. Checks offsets are
 *  contiguous: any gap or overlap is counted. */
export function wsFollow(
  port: number,
  job: string,
  opts: { from?: number; stopAfter?: number; hash?: ReturnType<typeof createHash>; keep?: boolean; state?: FollowResult } = {},
): Promise<FollowResult> {
  const from = opts.from ?? 0
  const hash = opts.hash ?? createHash('sha256')
  const st: FollowResult = opts.state ?? { sha256: '', bytes: 0, next: from, perStream: { stdout: [], stderr: [] }, gaps: 0, dups: 0 }
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/jobs/${job}/logs/ws?from=${from}`, [`bearer.${TOKEN}`])
    let received = 0
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString())
      if (m.exit) {
        st.exit = m.exit
        return
      }
      if (m.error) return reject(new Error(JSON.stringify(m.error)))
      const b = m.data64 !== undefined ? Buffer.from(m.data64, 'base64') : Buffer.from(m.data, 'utf8')
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
