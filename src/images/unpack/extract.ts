import { createHash } from 'node:crypto'
import { chmodSync, chownSync, lchownSync, linkSync, lutimesSync, mkdirSync, rmSync, symlinkSync, unlinkSync, utimesSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { SkiffError } from '../../lib/errors.js'
import type { Digest } from '../types.js'
import { StreamedFile, WhiteoutMaker, currentIdentity, makeNode, needsChown, needsChmod, setXattrsSync, writeWholeFile, writeWholeFileSync, type Identity, type Meta } from './apply.js'
import { entryName, isWithin, parentOf } from './entry-name.js'
import { fileWriters, type FileWriterPool } from './file-writers.js'
import { noSpace, unpackAborted, unpackFailed, unsafeEntry } from './errors.js'
import { TarReader, type TarHeader } from './tar-reader.js'
import { OVERLAY_OPAQUE_XATTR, classifyEntry } from './whiteouts.js'
import { setAttributeSync } from '@napi-rs/xattr'

export interface ExtractOptions {
  /** Empty, private directory that becomes the snapshot (nothing else writes to it). */
  dir: string
  /** Private directory on the same filesystem for scratch files (whiteout template). */
  scratch: string
  signal?: AbortSignal
  /** Files up to this size are read whole and written in the background. */
  smallFileBytes?: number
  /** Files up to this size are written with direct syscalls on the main thread:
   *  measured cheaper than a threadpool round trip per syscall (see README). */
  syncFileBytes?: number
  /** Background file writes in flight at most (keeps the libuv threadpool busy). */
  concurrency?: number
  /** Threads that create small files, one per directory (see file-writers.ts);
   *  null = write them on this thread. Default: the shared pool (null on one core). */
  writers?: FileWriterPool | null
}

export interface ExtractResult {
  diffId: Digest
  /** bytes of the uncompressed tar */
  size: number
  entries: number
}

const STREAM_WINDOW = 8 << 20

type Kind = 'dir' | 'file' | 'symlink' | 'node' | 'whiteout'

/** Extract an uncompressed layer tar into `dir` in overlayfs form, hashing the tar
 *  bytes on the way (the diff id). Hostile input is refused with UNSAFE_TAR_ENTRY.
 *
 *  Why no lstat per path component: `dir` is fresh and private, so the only things
 *  in it are the ones this extraction created. `#nodes` records each of them with
 *  its type, which is exactly what an lstat would answer; a parent that is a
 *  symlink (or a file) is refused, and since a name is never resolved by the
 *  kernel through a symlink we created, no link is ever followed.
 *
 *  Pipelining: directories, symlinks, hardlinks and whiteouts are made in order on
 *  the main thread (cheap syscalls); regular files up to `smallFileBytes` are handed
 *  to background writes (`concurrency` at most) while the parser goes on. Ordering:
 *  a directory exists before any child task starts; a hardlink waits for its
 *  target's write; replacing or removing an existing path waits for every write. */
export async function extractLayer(tar: Readable, opts: ExtractOptions): Promise<ExtractResult> {
  return new Extraction(opts).run(tar)
}

class Extraction {
  readonly #root: string
  readonly #id: Identity = currentIdentity()
  readonly #nodes = new Map<string, Kind>([['.', 'dir']])
  readonly #writes = new Map<string, Promise<void>>()
  readonly #dirTimes = new Map<string, number>()
  readonly #whiteouts: WhiteoutMaker
  readonly #small: number
  readonly #syncBytes: number
  readonly #limit: number
  readonly #writers: FileWriterPool | null
  #active = 0
  #waiters: (() => void)[] = []
  #failure: unknown
  #entries = 0

  constructor(private readonly opts: ExtractOptions) {
    this.#root = opts.dir
    this.#whiteouts = new WhiteoutMaker(opts.scratch)
    this.#small = opts.smallFileBytes ?? 1 << 20
    this.#syncBytes = opts.syncFileBytes ?? Number(process.env.SKIFF_SYNC_BYTES ?? 64 * 1024)
    this.#limit = opts.concurrency ?? 32
    this.#writers = opts.writers === undefined ? fileWriters() : opts.writers
  }

  async run(tar: Readable): Promise<ExtractResult> {
    const hash = createHash('sha256')
    const reader = new TarReader(tar, { onChunk: (b) => hash.update(b) })
    const signal = this.opts.signal
    const onAbort = () => tar.destroy(unpackAborted('layer', signal?.reason))
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (signal?.aborted) throw unpackAborted('layer', signal.reason)
      for (let h = await reader.next(); h; h = await reader.next()) {
        if (this.#failure) throw this.#failure
        this.#entries++
        await this.#entry(h, reader)
      }
      await this.#drain()
      if (this.#failure) throw this.#failure
      this.#applyDirTimes()
      return { diffId: `sha256:${hash.digest('hex')}`, size: reader.bytes, entries: this.#entries }
    } catch (e) {
      if (!tar.destroyed) tar.destroy()
      await this.#drain()
      if (signal?.aborted && !(e instanceof SkiffError && e.code === 'ABORTED')) throw unpackAborted('layer', e)
      throw e
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  async #entry(h: TarHeader, reader: TarReader): Promise<void> {
    const raw = h.name
    const name = entryName(raw)
    const action = classifyEntry(name)
    const meta: Meta = { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, xattrs: h.xattrs }
    try {
      switch (action.kind) {
        case 'skip':
          return
        case 'opaque': {
          this.#ensureDir(action.dir, raw)
          setAttributeSync(this.#abs(action.dir), OVERLAY_OPAQUE_XATTR, 'y')
          return
        }
        case 'whiteout': {
          this.#ensureParent(action.path, raw)
          await this.#clear(action.path)
          await this.#whiteouts.make(this.#abs(action.path))
          this.#nodes.set(action.path, 'whiteout')
          return
        }
        case 'write':
          return await this.#write(name, raw, h, meta, reader)
      }
    } catch (e) {
      throw asUnpackError(e, raw)
    }
  }

  async #write(name: string, raw: string, h: TarHeader, meta: Meta, reader: TarReader): Promise<void> {
    if (name === '.') {
      if (h.type !== 'dir') throw unsafeEntry(raw, 'only a directory may stand for the layer root')
      this.#dirMeta(this.#root, meta, true)
      this.#dirTimes.set('.', h.mtime)
      return
    }
    this.#ensureParent(name, raw)
    const existing = this.#nodes.get(name)
    // docker semantics: an existing path is removed and re-created, except dir over dir.
    if (existing !== undefined && !(existing === 'dir' && h.type === 'dir')) await this.#clear(name)
    const abs = this.#abs(name)
    switch (h.type) {
      case 'dir':
        if (existing !== 'dir') mkdirSync(abs, meta.mode & 0o777)
        this.#nodes.set(name, 'dir')
        this.#dirMeta(abs, meta, existing === 'dir')
        this.#dirTimes.set(name, h.mtime)
        return
      case 'file': {
        this.#nodes.set(name, 'file')
        if (h.size <= this.#small) {
          const data = await reader.read()
          const pool = this.#writers
          if (pool && !meta.xattrs) {
            // Inode creation dominates small files: done off this thread, in parallel
            // across directories (file-writers.ts); memory bounded by the pool.
            await pool.room()
            if (this.#failure) throw this.#failure
            const chown = needsChown(meta, this.#id)
            this.#active++
            this.#track(name, pool.write(parentOf(name), { path: abs, data, mode: meta.mode, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, chown, chmod: chown || needsChmod(meta, this.#id) }))
            return
          }
          if (h.size <= this.#syncBytes) return writeWholeFileSync(abs, data, meta, this.#id)
          await this.#slot()
          const p = writeWholeFile(abs, data, meta, this.#id)
          this.#track(name, p)
          return
        }
        // Large file: positional writes overlap with reading the next chunks
        // (at most STREAM_WINDOW bytes in flight; chunks are views of input buffers
        // that nothing reuses).
        const f = await StreamedFile.open(abs, meta)
        const inflight = new Set<Promise<void>>()
        let pos = 0
        let pending = 0
        let failed: unknown
        try {
          for await (const chunk of reader.chunks()) {
            if (failed) throw failed
            const w = f.write(chunk, pos).finally(() => {
              inflight.delete(w)
              pending -= chunk.length
            })
            // a write can fail (ENOSPC) while the loop waits for the next chunk, before
            // anything awaits it: noted here, thrown at the next chunk or the end (an
            // unobserved rejection would take the whole daemon down)
            w.catch((e: unknown) => (failed ??= e))
            inflight.add(w)
            pos += chunk.length
            pending += chunk.length
            while (pending > STREAM_WINDOW) await Promise.race(inflight)
          }
          await Promise.all(inflight)
        } catch (e) {
          await Promise.allSettled(inflight)
          f.abort()
          throw e
        }
        await f.finish(meta, this.#id)
        return
      }
      case 'symlink':
        symlinkSync(h.linkname, abs)
        this.#nodes.set(name, 'symlink')
        if (needsChown(meta, this.#id)) lchownSync(abs, meta.uid, meta.gid)
        setXattrsSync(abs, meta.xattrs)
        lutimesSync(abs, meta.mtime, meta.mtime)
        return
      case 'link': {
        const target = entryName(h.linkname)
        const kind = this.#nodes.get(target)
        if (kind === undefined) throw unsafeEntry(raw, `hardlink target ${JSON.stringify(h.linkname)} is not an earlier entry of this layer`)
        if (kind === 'dir') throw unsafeEntry(raw, `hardlink target ${JSON.stringify(h.linkname)} is a directory`)
        if (target === name) return
        await this.#writes.get(target)
        // link(2) on Linux does not follow a symlink target: linking to one links the symlink itself.
        linkSync(this.#abs(target), abs)
        this.#nodes.set(name, kind)
        return
      }
      case 'chardev':
      case 'blockdev':
      case 'fifo':
        this.#nodes.set(name, 'node')
        await makeNode(abs, h.type === 'chardev' ? 'c' : h.type === 'blockdev' ? 'b' : 'p', meta, { major: h.devmajor, minor: h.devminor }, this.#id)
        lutimesSync(abs, meta.mtime, meta.mtime)
        return
    }
  }

  #abs(name: string): string {
    return name === '.' ? this.#root : `${this.#root}/${name}`
  }

  /** `existed`: the directory was made earlier (or is the root), so its owner and
   *  mode are whatever they were and must be set, not only corrected. */
  #dirMeta(abs: string, meta: Meta, existed: boolean): void {
    if (existed || needsChown(meta, this.#id)) chownSync(abs, meta.uid, meta.gid)
    if (existed || needsChmod(meta, this.#id) || needsChown(meta, this.#id)) chmodSync(abs, meta.mode & 0o7777)
    setXattrsSync(abs, meta.xattrs)
  }

  /** Every ancestor of `name` must be a directory this extraction made; missing ones
   *  are created 0755 (as tar and moby do); a symlink or file on the way is refused. */
  #ensureParent(name: string, raw: string): void {
    const parent = parentOf(name)
    if (this.#nodes.get(parent) === 'dir') return
    this.#ensureDir(parent, raw)
  }

  #ensureDir(dir: string, raw: string): void {
    if (this.#nodes.get(dir) === 'dir') return
    let prefix = ''
    for (const part of dir.split('/')) {
      prefix = prefix ? `${prefix}/${part}` : part
      const kind = this.#nodes.get(prefix)
      if (kind === 'dir') continue
      if (kind === 'symlink') throw unsafeEntry(raw, `${JSON.stringify(prefix)} is a symlink; refusing to write through it`)
      // A whiteout only marks a deletion: an entry below it re-creates the directory.
      if (kind === 'whiteout') unlinkSync(this.#abs(prefix))
      else if (kind !== undefined) throw unsafeEntry(raw, `${JSON.stringify(prefix)} is not a directory`)
      mkdirSync(this.#abs(prefix), 0o755)
      this.#nodes.set(prefix, 'dir')
    }
  }

  /** Remove whatever this layer already has at `name` (subtree included). */
  async #clear(name: string): Promise<void> {
    if (!this.#nodes.has(name)) return
    await this.#drain()
    if (this.#failure) throw this.#failure
    rmSync(this.#abs(name), { recursive: true, force: true })
    for (const k of [...this.#nodes.keys()]) if (isWithin(k, name)) this.#nodes.delete(k)
    for (const k of [...this.#dirTimes.keys()]) if (isWithin(k, name)) this.#dirTimes.delete(k)
  }

  async #slot(): Promise<void> {
    while (this.#active >= this.#limit) await new Promise<void>((r) => this.#waiters.push(r))
    this.#active++
  }

  #track(name: string, p: Promise<void>): void {
    const tracked = p.then(
      () => undefined,
      (e) => {
        this.#failure ??= asUnpackError(e, name)
      },
    ).finally(() => {
      this.#active--
      if (this.#writes.get(name) === tracked) this.#writes.delete(name)
      this.#waiters.shift()?.()
    })
    this.#writes.set(name, tracked)
  }

  async #drain(): Promise<void> {
    while (this.#writes.size) await Promise.all([...this.#writes.values()])
  }

  // Directory mtimes last: creating entries inside a directory bumps its mtime
  // (same reason as containerd pkg/archive/tar.go).
  #applyDirTimes(): void {
    for (const [name, t] of this.#dirTimes) utimesSync(this.#abs(name), t, t)
  }
}

/** Filesystem failures while applying an entry: out of space is the host's
 *  condition (insufficient_storage, 507), anything else an internal failure naming the entry. */
function asUnpackError(e: unknown, entry: string): SkiffError {
  if (e instanceof SkiffError) return e
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') return noSpace(entry, e)
  return unpackFailed('layer', `entry ${JSON.stringify(entry)}: ${(e as Error).message}`, e)
}
