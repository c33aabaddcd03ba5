import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { Cleanup } from '../lib/cleanup.js'
import { exec } from '../lib/exec.js'
import { SingleFlight } from '../lib/single-flight.js'
import type { Digest } from './types.js'
import { diffIdMismatch, invalidDiffId, unpackAborted } from './unpack/errors.js'
import { extractLayer } from './unpack/extract.js'

// Layout (everything on one filesystem, so publishing is a rename):
//   <root>/sha256/<hex>/fs          the snapshot: an overlayfs lowerdir
//   <root>/sha256/<hex>/meta.json   { diffId, size } of the tar it came from
//   <root>/tmp/<random>/            private staging dirs (fs/, scratch/), never visible as snapshots

export interface UnpackResult {
  path: string
  diffId: Digest
  size: number
}

export interface SnapshotterOptions {
  root: string
  /** Background file writes in flight per unpack (default 32). */
  concurrency?: number
  /** syncfs(2) the staging dir's filesystem (`sync -f`) before publishing, so a power
   *  loss cannot leave a published snapshot with unwritten file data. Off by default
   *  because the writeback costs about the disk's write speed per layer; without it a
   *  power loss right after a pull may need `skiff rmi` + pull of that image. */
  durable?: boolean
}

const DIFF_ID = /^sha256:[0-9a-f]{64}$/

/** One directory per unpacked layer, keyed by diff id, usable as an overlayfs lowerdir.
 *  Lifecycle: unpack() extracts into a private temp dir and renames it into place only
 *  when the tar's sha256 equals the expected diff id, so a published snapshot is always
 *  complete and verified; remove() renames it away before deleting, so a half-deleted
 *  snapshot is never visible. Callers must not remove a snapshot a container uses
 *  (GC's job). A stale temp dir from a crash is swept on the first unpack. */
export class Snapshotter {
  readonly root: string
  readonly #flights = new SingleFlight<Digest, UnpackResult>()
  readonly #concurrency: number
  readonly #durable: boolean
  #swept: Promise<void> | undefined

  constructor(opts: SnapshotterOptions) {
    this.root = opts.root
    this.#concurrency = opts.concurrency ?? 32
    this.#durable = opts.durable ?? false
    mkdirSync(join(this.root, 'sha256'), { recursive: true, mode: 0o700 })
    mkdirSync(join(this.root, 'tmp'), { recursive: true, mode: 0o700 })
  }

  #dir(diffId: Digest): string {
    if (!DIFF_ID.test(diffId)) throw invalidDiffId(diffId)
    return join(this.root, 'sha256', diffId.slice('sha256:'.length))
  }

  async path(diffId: Digest): Promise<string | undefined> {
    const fs = join(this.#dir(diffId), 'fs')
    try {
      await stat(fs)
      return fs
    } catch {
      return undefined
    }
  }

  async has(diffId: Digest): Promise<boolean> {
    return (await this.path(diffId)) !== undefined
  }

  /** Extracts an UNCOMPRESSED layer tar (see decompress.ts) into a private temp dir,
   *  hashing the tar bytes on the way; DIFF_ID_MISMATCH if they differ from
   *  expectedDiffId. Publishes by rename only on success; on any failure (bad entry,
   *  input error, abort) the temp dir is removed and nothing is published.
   *  Concurrent calls for one diff id share one extraction. The stream of a caller that
   *  joined (or that asked for an already published snapshot) is drained and discarded,
   *  not destroyed: a caller teeing a download into the content store and into unpack
   *  still sees its digest verification reach the end. */
  unpack(expectedDiffId: Digest, tar: Readable, opts: { signal?: AbortSignal } = {}): Promise<UnpackResult> {
    // The reader starts iterating only after a few awaits (lookup, sweep, staging
    // dirs): a source that errors before that (a registry connection reset) would
    // emit 'error' with no listener — an uncaught exception that ends the daemon.
    // The error is not lost: the iterator over an errored stream throws it.
    tar.on('error', ignoreError)
    if (!DIFF_ID.test(expectedDiffId)) {
      tar.destroy()
      return Promise.reject(invalidDiffId(expectedDiffId))
    }
    let mine = false
    const p = this.#flights.run(expectedDiffId, () => {
      mine = true
      return this.#unpack(expectedDiffId, tar, opts)
    })
    if (!mine) drain(tar)
    return p
  }

  async #unpack(diffId: Digest, tar: Readable, opts: { signal?: AbortSignal }): Promise<UnpackResult> {
    const final = this.#dir(diffId)
    const existing = await this.#published(diffId, final)
    if (existing) {
      drain(tar)
      return existing
    }
    if (opts.signal?.aborted) {
      tar.destroy()
      throw unpackAborted(diffId, opts.signal.reason)
    }
    await (this.#swept ??= this.#sweep())
    await using undo = new Cleanup()
    const staging = join(this.root, 'tmp', `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`)
    await mkdir(staging, { mode: 0o700 })
    undo.defer(() => rm(staging, { recursive: true, force: true }))
    const fs = join(staging, 'fs')
    const scratch = join(staging, 'scratch')
    await mkdir(fs, { mode: 0o755 })
    await mkdir(scratch)
    let r
    try {
      r = await extractLayer(tar, { dir: fs, scratch, signal: opts.signal, concurrency: this.#concurrency })
    } catch (e) {
      if (opts.signal?.aborted) throw unpackAborted(diffId, e)
      throw e
    }
    if (r.diffId !== diffId) throw diffIdMismatch(diffId, r.diffId, r.size)
    await rm(scratch, { recursive: true, force: true })
    await writeFile(join(staging, 'meta.json'), JSON.stringify({ diffId, size: r.size }))
    if (this.#durable) await exec(['sync', '-f', staging], { errorCode: 'UNPACK_FAILED' })
    try {
      await rename(staging, final)
    } catch (e) {
      // Another process published the same diff id first: theirs is as good as ours.
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e
    }
    undo.commit()
    return { path: join(final, 'fs'), diffId, size: r.size }
  }

  async #published(diffId: Digest, dir: string): Promise<UnpackResult | undefined> {
    try {
      const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as { size: number }
      return { path: join(dir, 'fs'), diffId, size: meta.size }
    } catch {
      return undefined
    }
  }

  /** Staging dirs left by a crash. Runs once, before this instance stages anything
   *  (one daemon owns the root). */
  async #sweep(): Promise<void> {
    const tmp = join(this.root, 'tmp')
    for (const n of await readdir(tmp)) await rm(join(tmp, n), { recursive: true, force: true })
  }

  async remove(diffId: Digest): Promise<void> {
    const dir = this.#dir(diffId)
    const gone = join(this.root, 'tmp', `gone-${diffId.slice(7, 19)}-${randomBytes(6).toString('hex')}`)
    try {
      await rename(dir, gone)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
      throw e
    }
    await rm(gone, { recursive: true, force: true })
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(join(this.root, 'sha256'))
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest).sort()
  }
}

/** Read a stream to its end and drop the bytes; its errors are the owner's business. */
function drain(s: Readable): void {
  s.on('error', () => {})
  s.resume()
}

function ignoreError(): void {}
