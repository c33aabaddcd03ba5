import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, readFileSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
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

export interface ContentStoreOptions {
  /** fsync every blob before it becomes visible (default false: see the class comment). */
  durable?: boolean
  /** Current boot id (test seam; default /proc/sys/kernel/random/boot_id). */
  bootId?: () => string
}

/** Blobs by digest under <root>/blobs/sha256/<hex>. A blob is invisible until its ingest
 *  resolves; a failed ingest leaves nothing behind (temp files live in <root>/ingest and
 *  are unlinked on failure; leftovers of a crash are removed by `sweepTemp`). `delete` is
 *  only called by GC/remove, which never collects a layer of an image in use.
 *
 *  Durability without an fsync per blob (it sat on every pull's critical path): blobs are
 *  content-addressed, so a blob torn by a power loss is detectable by its digest.
 *  `<root>/state.json` records the boot id and whether the store was closed cleanly
 *  (`close()` fsyncs what this process wrote first). `init()` after a reboot that
 *  followed an unclean shutdown re-hashes every blob and removes the ones that do not
 *  match (`recovered`); a process crash without a reboot loses nothing (page cache).
 *  Readers that hand blobs on (save, unpack from the store) verify the digest anyway. */
export class ContentStore {
  readonly blobsDir: string
  readonly ingestDir: string
  readonly #durable: boolean
  readonly #bootId: () => string
  /** Blobs this process made visible without fsync. */
  readonly #unsynced = new Set<string>()
  /** Blobs removed by the last init() because their bytes did not match their digest. */
  recovered: Digest[] = []
  constructor(readonly root: string, opts: ContentStoreOptions = {}) {
    this.blobsDir = join(root, 'blobs', 'sha256')
    this.ingestDir = join(root, 'ingest')
    this.#durable = opts.durable ?? false
    this.#bootId = opts.bootId ?? (() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true })
    await mkdir(this.ingestDir, { recursive: true })
    const boot = this.#bootId()
    let prev: { bootId?: string; clean?: boolean } | undefined
    try {
      prev = JSON.parse(await readFile(join(this.root, 'state.json'), 'utf8'))
    } catch {
      prev = undefined // first start (or a store from before state.json, whose blobs were fsynced)
    }
    this.recovered = prev && prev.bootId !== boot && !prev.clean ? await this.verifyAll() : []
    await this.#writeState({ bootId: boot, clean: false })
  }

  /** Re-hash every blob; remove (and return) those whose bytes do not match their name. */
  async verifyAll(): Promise<Digest[]> {
    const bad: Digest[] = []
    for await (const d of this.list()) {
      const h = createHash('sha256')
      try {
        for await (const c of createReadStream(this.path(d), { highWaterMark: 1 << 20 })) h.update(c as Buffer)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw e
      }
      if (`sha256:${h.digest('hex')}` !== d) {
        bad.push(d)
        await this.delete(d)
      }
    }
    return bad
  }

  /** fsync what this process wrote without it, then record a clean shutdown. */
  async close(): Promise<void> {
    for (const p of this.#unsynced) await fsyncPath(p).catch((e) => (e as NodeJS.ErrnoException).code === 'ENOENT' || Promise.reject(e))
    this.#unsynced.clear()
    await fsyncPath(this.blobsDir)
    await this.#writeState({ bootId: this.#bootId(), clean: true })
  }

  async #writeState(st: { bootId: string; clean: boolean }): Promise<void> {
    const tmp = join(this.root, `state.json.${randomBytes(4).toString('hex')}`)
    await writeFile(tmp, JSON.stringify(st))
    await fsyncPath(tmp)
    await rename(tmp, join(this.root, 'state.json'))
    await fsyncPath(this.root)
  }

  /** Make a written temp file visible as `final` (fsync first only when durable). */
  async #publish(tmp: string, final: string): Promise<void> {
    if (this.#durable) await fsyncPath(tmp)
    await rename(tmp, final)
    if (!this.#durable) this.#unsynced.add(final)
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
          done = true
          await this.#publish(tmp, final) // the only line that makes the blob visible
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
      await this.#publish(tmp, this.path(digest))
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
    this.#unsynced.delete(this.path(digest))
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

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
