import type { LogStore } from '../logs/index.js'

/** The tail of a job's stdout and stderr (at most maxBytes each), as UTF-8.
 *  Reads only the last 2×maxBytes of output, so a huge log costs no more than a
 *  small one. A log file no bigger than that holds less output still, so the
 *  usual small one is read in one pass (this is on every ?wait=true response). */
export async function jobOutput(logs: LogStore, jobId: string, maxBytes: number): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  const from = logs.fileBytes(jobId) <= 2 * maxBytes ? 0 : Math.max(0, (await logs.end(jobId)) - 2 * maxBytes)
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
