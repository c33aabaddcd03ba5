import type { LogStore } from '../logs/index.js'

/** The tail of a job's stdout and stderr (at most maxBytes each), as UTF-8.
 *  Reads only the last 2×maxBytes of output, so a huge log costs no more than a small one. */
export async function jobOutput(logs: LogStore, jobId: string, maxBytes: number): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  const end = await logs.end(jobId)
  const from = Math.max(0, end - 2 * maxBytes)
  const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] }
  let truncated = from > 0
  for await (const r of logs.read(jobId, { from })) {
    if (r.dropped) {
      truncated = true
      continue
    }
    out[r.stream].push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength))
  }
  const tail = (s: 'stdout' | 'stderr') => {
    const b = Buffer.concat(out[s])
    if (b.length <= maxBytes) return b.toString('utf8')
    truncated = true
    return b.subarray(b.length - maxBytes).toString('utf8')
  }
  return { stdout: tail('stdout'), stderr: tail('stderr'), truncated }
}
