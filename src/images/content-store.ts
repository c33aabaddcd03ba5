import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Readable, Transform, type Writable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import { blobNotFound } from './errors.js'
import type { Descriptor, Digest } from './types.js'
import { verifyDigest } from './verify.js'

const HEX = /^[a-f0-9]{64}$/

/** A blob being written: bytes go to `stream`; `commit()` (after the caller has verified
 *  them) fsyncs and renames into place; `abort()` removes the temp file. */
export interface BlobWriter {
  readonly stream: Writable
  commit(): Promise<void>
  abort(): Promise<void>
}

/** Blobs by digest under <root>/blobs/sha256/<hex>. A blob is invisible until its ingest
 *  resolves; a failed ingest leaves nothing behind (temp files live in <root>/ingest and
 *  are unlinked on failure; leftovers of a crash are removed by `sweepTemp`). `delete` is
 *  only called by GC/remove, which never collects a layer of an image in use. */
export class ContentStore {
  readonly blobsDir: string
  readonly ingestDir: string
  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256')
    this.ingestDir = join(root, 'ingest')
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true })
    await mkdir(this.ingestDir, { recursive: true })
  }

  /** Remove temp files left by a crash. Only call when no ingest is running. */
  async sweepTemp(): Promise<void> {
    await rm(this.ingestDir, { recursive: true, force: true })
    await mkdir(this.ingestDir, { recursive: true })
  }

  path(digest: Digest): string {
    const hex = digest.slice('sha256:'.length)
    if (!digest.startsWith('sha256:') || !HEX.test(hex)) throw new TypeError(`not a sha256 digest: ${digest}`)
    return join(this.blobsDir, hex)
  }

  async stat(digest: Digest): Promise<{ size: number } | undefined> {
    try {
      const s = await stat(this.path(digest))
      return { size: s.size }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async readBytes(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.path(digest))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(digest)
      throw e
    }
  }

  read(digest: Digest): Readable {
    const out = new PassThrough()
    const src = createReadStream(this.path(digest))
    src.on('error', (e) => out.destroy((e as NodeJS.ErrnoException).code === 'ENOENT' ? blobNotFound(digest) : e))
    return src.pipe(out)
  }

  async writer(digest: Digest): Promise<BlobWriter> {
    const final = this.path(digest)
    await mkdir(this.ingestDir, { recursive: true })
    const tmp = join(this.ingestDir, `${digest.slice(7, 23)}-${randomBytes(6).toString('hex')}`)
    const stream = createWriteStream(tmp, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 })
    let done = false
    const abort = async () => {
      if (done) return
      done = true
      stream.destroy()
      await finished(stream).catch(() => {})
      await unlink(tmp).catch(() => {})
    }
    return {
      stream,
      abort,
      commit: async () => {
        try {
          if (!stream.closed) await finished(stream)
          const fh = await open(tmp, 'r+')
          try {
            await fh.sync()
          } finally {
            await fh.close()
          }
          done = true
          await rename(tmp, final) // the only line that makes the blob visible
        } catch (e) {
          await abort()
          throw e
        }
      },
    }
  }

  /** Verify `body` against `desc` while writing it; visible only on success. */
  async ingest(desc: Descriptor, body: Readable, opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<void> {
    if (await this.stat(desc.digest)) {
      body.resume()
      return
    }
    const w = await this.writer(desc.digest)
    try {
      const v = verifyDigest({ digest: desc.digest, size: desc.size })
      if (opts.onBytes) v.on('data', (c: Buffer) => opts.onBytes!(c.length))
      await pipeline(body, v, w.stream, opts.signal ? { signal: opts.signal } : {})
      await w.commit()
    } catch (e) {
      await w.abort()
      throw e
    }
  }

  /** Ingest a stream whose digest is not known in advance (imports): hash while writing,
   *  then publish under the computed digest. */
  async ingestUnknown(body: Readable, opts: { signal?: AbortSignal } = {}): Promise<{ digest: Digest; size: number }> {
    await mkdir(this.ingestDir, { recursive: true })
    const tmp = join(this.ingestDir, `unknown-${randomBytes(8).toString('hex')}`)
    try {
      const h = createHash('sha256')
      let size = 0
      const counter = new Transform({
        transform(c: Buffer, _e, cb) {
          h.update(c)
          size += c.length
          cb(null, c)
        },
      })
      await pipeline(body, counter, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }), opts.signal ? { signal: opts.signal } : {})
      const digest = `sha256:${h.digest('hex')}` as Digest
      const fh = await open(tmp, 'r+')
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, this.path(digest))
      return { digest, size }
    } catch (e) {
      await unlink(tmp).catch(() => {})
      throw e
    }
  }

  async putBytes(desc: Descriptor, bytes: Uint8Array): Promise<void> {
    await this.ingest(desc, Readable.from([Buffer.from(bytes)]))
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true })
  }

  async *list(): AsyncIterable<Digest> {
    let names: string[]
    try {
      names = await readdir(this.blobsDir)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
      throw e
    }
    for (const n of names) if (HEX.test(n)) yield `sha256:${n}` as Digest
  }
}
