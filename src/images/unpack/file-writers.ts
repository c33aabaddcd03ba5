import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { FILE_FLAGS } from './apply.js'

// Creating an inode is the expensive part of unpacking small files: ext4 on the bench
// host spends ~300 µs of CPU per create or mkdir (tmpfs: 3 µs), and the kernel
// serialises creates in ONE directory (the parent's i_rwsem) but runs creates in
// different directories in parallel. So small files are written by a few worker
// threads with plain synchronous syscalls, each directory pinned to one worker
// (no lock contention, per-directory order kept), while the main thread goes on
// parsing the tar and hashing. The worker is a fixed string of fs calls: no module
// loading, so it behaves the same under tsx, vitest and compiled JS.

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const FLAGS = ${FILE_FLAGS}
parentPort.on('message', (jobs) => {
  const out = []
  for (const j of jobs) {
    try {
      const fd = fs.openSync(j.path, FLAGS, j.mode & 0o777)
      try {
        const d = j.data
        let off = 0
        while (off < d.length) off += fs.writeSync(fd, d, off, d.length - off)
        if (j.chown) fs.fchownSync(fd, j.uid, j.gid)
        if (j.chmod) fs.fchmodSync(fd, j.mode & 0o7777)
        fs.futimesSync(fd, j.mtime, j.mtime)
      } finally {
        fs.closeSync(fd)
      }
      out.push({ id: j.id })
    } catch (e) {
      out.push({ id: j.id, error: { message: String(e && e.message), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall, path: e && e.path } })
    }
  }
  parentPort.postMessage(out)
})
`

export interface FileJob {
  path: string
  data: Uint8Array
  mode: number
  uid: number
  gid: number
  mtime: number
  /** fchown needed (owner differs from ours) */
  chown: boolean
  /** fchmod needed (umask ate bits, special bits, or after chown) */
  chmod: boolean
}

interface Pending {
  resolve: () => void
  reject: (e: Error) => void
  bytes: number
}

const MAX_PENDING_BYTES = 32 << 20
/** A thread is a whole V8 isolate (several MiB resident): the lanes are stopped
 *  once the pool has had nothing to do for this long, and made again on the next unpack. */
const IDLE_STOP_MS = 2000
const MAX_PENDING_FILES = 8192
const BATCH = 32

class Lane {
  readonly worker: Worker
  #batch: (FileJob & { id: number })[] = []
  #transfer: ArrayBuffer[] = []
  #scheduled = false
  constructor(readonly pool: FileWriterPool) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true })
    this.worker.unref()
    this.worker.on('message', (done: { id: number; error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string } }[]) => {
      for (const d of done) pool.settle(d.id, d.error)
    })
    this.worker.on('error', (e) => pool.laneFailed(this, e))
    this.worker.on('exit', (code) => pool.laneFailed(this, new Error(`file writer thread exited ${code}`)))
  }
  push(job: FileJob & { id: number }, buf: ArrayBuffer): void {
    this.#batch.push(job)
    this.#transfer.push(buf)
    if (this.#batch.length >= BATCH) return this.flush()
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.flush())
    }
  }
  flush(): void {
    this.#scheduled = false
    if (!this.#batch.length) return
    const batch = this.#batch
    const transfer = this.#transfer
    this.#batch = []
    this.#transfer = []
    this.worker.postMessage(batch, transfer)
  }
}

/** A process-wide pool of file-writing threads (one per core, at most `size`). */
export class FileWriterPool {
  readonly #lanes: (Lane | undefined)[]
  readonly #pending = new Map<number, Pending & { lane: Lane }>()
  #next = 1
  #bytes = 0
  #waiters: (() => void)[] = []
  #idle: NodeJS.Timeout | undefined

  constructor(readonly size: number, readonly idleStopMs = IDLE_STOP_MS) {
    this.#lanes = new Array(size).fill(undefined)
  }

  /** Wait until the pool accepts more work (bounded memory: bytes and files in flight). */
  async room(): Promise<void> {
    while (this.#bytes >= MAX_PENDING_BYTES || this.#pending.size >= MAX_PENDING_FILES) await new Promise<void>((r) => this.#waiters.push(r))
  }

  /** Create `job.path` (O_EXCL|O_NOFOLLOW) with its content, owner, mode and mtime.
   *  Jobs with the same `key` (the parent directory) run in order on one thread. */
  write(key: string, job: FileJob): Promise<void> {
    // A fresh, exactly-sized buffer: cloning a view would copy its whole backing store.
    const copy = new Uint8Array(job.data.length)
    copy.set(job.data)
    const lane = this.#lane(key)
    const id = this.#next++
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, bytes: copy.length, lane })
      this.#bytes += copy.length
      if (this.#pending.size === 1) {
        for (const l of this.#lanes) l?.worker.ref()
        clearTimeout(this.#idle)
      }
      lane.push({ ...job, data: copy, id }, copy.buffer)
    })
  }

  settle(id: number, error?: { message: string; code?: string; errno?: number; syscall?: string; path?: string }): void {
    const p = this.#pending.get(id)
    if (!p) return
    this.#done(id, p)
    if (!error) return p.resolve()
    p.reject(Object.assign(new Error(error.message), { code: error.code, errno: error.errno, syscall: error.syscall, path: error.path }))
  }

  laneFailed(lane: Lane, e: Error): void {
    const i = this.#lanes.indexOf(lane)
    if (i < 0) return
    this.#lanes[i] = undefined
    for (const [id, p] of this.#pending) {
      if (p.lane !== lane) continue
      this.#done(id, p)
      p.reject(e)
    }
  }

  #done(id: number, p: Pending): void {
    this.#pending.delete(id)
    this.#bytes -= p.bytes
    if (this.#pending.size === 0) {
      for (const l of this.#lanes) l?.worker.unref()
      clearTimeout(this.#idle)
      this.#idle = setTimeout(() => void this.#stopLanes(), this.idleStopMs)
      this.#idle.unref()
    }
    const w = this.#waiters
    this.#waiters = []
    for (const r of w) r()
  }

  #lane(key: string): Lane {
    let h = 0
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0
    const i = (h >>> 0) % this.#lanes.length
    return (this.#lanes[i] ??= new Lane(this))
  }

  /** Threads running now (0 once idle for idleStopMs). */
  get threads(): number {
    return this.#lanes.filter(Boolean).length
  }

  /** Stop the threads; the next write starts them again. */
  async close(): Promise<void> {
    clearTimeout(this.#idle)
    await this.#stopLanes()
  }

  async #stopLanes(): Promise<void> {
    if (this.#pending.size) return
    // out of #lanes first: their 'exit' then finds no lane to fail
    const lanes = this.#lanes.splice(0, this.#lanes.length, ...new Array(this.size).fill(undefined))
    await Promise.all(lanes.map((l) => l?.worker.terminate()))
  }
}

let shared: FileWriterPool | null | undefined

/** The shared pool, or null on a single-core host (direct syscalls are cheaper there). */
export function fileWriters(): FileWriterPool | null {
  if (process.env.SKIFF_FILE_WRITERS === '0') return null
  if (shared === undefined) {
    const n = Math.min(Number(process.env.SKIFF_FILE_WRITERS ?? availableParallelism()), 4)
    shared = n >= 2 ? new FileWriterPool(n) : null
  }
  return shared
}
