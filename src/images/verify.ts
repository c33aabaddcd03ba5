import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { digestMismatch, sizeMismatch, tooLarge } from './errors.js'
import type { Digest } from './types.js'

export interface VerifyOptions {
  /** Expected digest; checked in flush(). */
  digest: Digest
  /** Expected size; more bytes fail at once, fewer fail in flush(). -1/undefined = unknown. */
  size?: number
  /** Hard cap independent of the claimed size (manifest/config caps). */
  maxBytes?: number
  /** What to name in a cap error (defaults to the digest). */
  what?: string
}

/** Pass-through that hashes and counts. A mismatch is raised from flush(), i.e. as an
 *  'error' instead of 'end': a downstream consumer never sees a clean end of
 *  unverified bytes (ggcr verify.ReadCloser, containerd content.Writer.Commit). */
export class Verifier extends Transform {
  readonly #hash: Hash = createHash('sha256')
  #bytes = 0
  constructor(readonly opts: VerifyOptions) {
    super()
  }
  get bytes(): number {
    return this.#bytes
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#bytes += chunk.length
    const { size, maxBytes, digest } = this.opts
    if (maxBytes !== undefined && this.#bytes > maxBytes) return cb(tooLarge(this.opts.what ?? `blob ${digest}`, maxBytes))
    if (size !== undefined && size >= 0 && this.#bytes > size) return cb(sizeMismatch(digest, size, this.#bytes))
    this.#hash.update(chunk)
    cb(null, chunk)
  }
  override _flush(cb: TransformCallback): void {
    const { size, digest } = this.opts
    if (size !== undefined && size >= 0 && this.#bytes !== size) return cb(sizeMismatch(digest, size, this.#bytes))
    const got = `sha256:${this.#hash.digest('hex')}`
    if (got !== digest) return cb(digestMismatch(digest, got, this.#bytes))
    cb()
  }
}

export const verifyDigest = (opts: VerifyOptions): Verifier => new Verifier(opts)

/** Verify an in-memory blob (manifests, configs). */
export function verifyBytes(bytes: Uint8Array, opts: VerifyOptions): void {
  if (opts.maxBytes !== undefined && bytes.length > opts.maxBytes) throw tooLarge(opts.what ?? `blob ${opts.digest}`, opts.maxBytes)
  if (opts.size !== undefined && opts.size >= 0 && bytes.length !== opts.size) throw sizeMismatch(opts.digest, opts.size, bytes.length)
  const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  if (got !== opts.digest) throw digestMismatch(opts.digest, got, bytes.length)
}

export const sha256 = (bytes: Uint8Array | string): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
