import type { Readable, Writable } from 'node:stream'
import type { ImageRecord } from '../images/types.js'

/** What the API needs from the image service (satisfied by src/images). */
export interface ImagesApi {
  pull(ref: string, opts?: { onProgress?: (p: unknown) => void; signal?: AbortSignal }): Promise<ImageRecord>
  resolve(ref: string): ImageRecord | undefined
  list(): ImageRecord[]
  remove(ref: string, opts?: { force?: boolean }): Promise<unknown>
  prune(opts: { inUse: ReadonlySet<string> }): Promise<unknown>
  load(body: Readable): Promise<ImageRecord[]>
  save(refs: string[], out: Writable): Promise<void>
  importRootfs(body: Readable, opts: { ref: string }): Promise<ImageRecord>
}

/** What the API needs from the log store beyond its own routes. */
export interface LogsApi {
  /** The tail of a finished job's output, per stream, for ?wait=true answers. */
  output(jobId: string, maxBytes: number): Promise<{ stdout: string; stderr: string; truncated: boolean }>
}
