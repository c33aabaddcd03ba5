import type { LogStore } from '../logs/index.js'

/** The tail of a job's stdout and stderr (at most maxBytes each), as UTF-8. */
export async function jobOutput(logs: LogStore, jobId: string, maxBytes: number): Promise<{ stdout: string; stderr: string; truncated: boolean }> {
  const out: Record<'stdout' | 'stderr', Buffer[]> = { stdout: [], stderr: [] }
  const size = { stdout: 0, stderr: 0 }
  let truncated = false
  for await (const r of logs.read(jobId, {})) {
    const s = r.stream
    out[s].push(Buffer.from(r.data))
    size[s] += r.data.length
    while (size[s] - out[s][0]!.length > maxBytes) {
      size[s] -= out[s].shift()!.length
      truncated = true
    }
  }
  const join = (s: 'stdout' | 'stderr') => {
    let b = Buffer.concat(out[s])
    if (b.length > maxBytes) {
      b = b.subarray(b.length - maxBytes)
      truncated = true
    }
    return b.toString('utf8')
  }
  return { stdout: join('stdout'), stderr: join('stderr'), truncated }
}
