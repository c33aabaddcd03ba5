import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'

/** One inotify watch on conmon's exit dir for every container, plus a slow poll
 *  as a backstop (inotify can miss events on some filesystems or under load). */
export class ExitWatcher {
  #watcher: FSWatcher | undefined
  #waiters = new Map<string, Set<(r: { code: number | null; atMs: number }) => void>>()
  /** per waited id: whether its monitor is gone (see wait) */
  #gone = new Map<string, () => boolean>()
  #poll: NodeJS.Timeout | undefined

  constructor(readonly dir: string, private readonly pollMs = 1000) {}

  /** The exit code if conmon has written it. A few bytes conmon has just written
   *  are in the page cache: reading them synchronously costs less than the four
   *  thread-pool round trips of an async open/fstat/read/close. */
  read(id: string): { code: number; atMs: number } | undefined {
    let fd: number | undefined
    try {
      fd = openSync(join(this.dir, id), 'r')
      const buf = Buffer.alloc(32)
      const text = buf.toString('utf8', 0, readSync(fd, buf, 0, 32, 0))
      if (!/^-?\d+\s*$/.test(text)) return undefined // still being written
      return { code: Number(text), atMs: fstatSync(fd).mtimeMs }
    } catch {
      return undefined
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }

  /** The exit code once conmon writes it. `gone` says whether the container's conmon
   *  has ended: conmon that cannot write the file (its filesystem full) ends without
   *  it, and the poll then answers `code: null` (exit unknown) instead of waiting forever. */
  wait(id: string, signal?: AbortSignal, gone?: () => boolean): Promise<{ code: number | null; atMs: number }> {
    this.#ensureWatching()
    if (gone) this.#gone.set(id, gone)
    return new Promise((resolve, reject) => {
      const set = this.#waiters.get(id) ?? new Set()
      this.#waiters.set(id, set)
      const done = (r: { code: number | null; atMs: number }) => {
        set.delete(done)
        if (!set.size) {
          this.#waiters.delete(id)
          this.#gone.delete(id)
        }
        signal?.removeEventListener('abort', onAbort)
        this.#stopPollingIfIdle()
        resolve(r)
      }
      const onAbort = () => {
        set.delete(done)
        if (!set.size) {
          this.#waiters.delete(id)
          this.#gone.delete(id)
        }
        this.#stopPollingIfIdle()
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      set.add(done)
      this.#ensurePolling()
      // It may have exited before we started watching.
      this.#check(id)
    })
  }

  #check(id: string, polled = false): void {
    if (!this.#waiters.has(id)) return
    let r: { code: number | null; atMs: number } | undefined = this.read(id)
    // conmon writes the file before it ends: gone and still no file (read again after
    // seeing it gone) means it never will be
    if (!r && polled && this.#gone.get(id)?.()) r = this.read(id) ?? { code: null, atMs: Date.now() }
    if (r) for (const fn of [...(this.#waiters.get(id) ?? [])]) fn(r)
  }

  #ensureWatching(): void {
    if (this.#watcher) return
    this.#watcher = watch(this.dir, (_event, name) => {
      if (name && this.#waiters.has(name)) this.#check(name)
    })
    this.#watcher.unref()
  }

  // The poll timer is referenced while anyone waits: a pending wait keeps the
  // process alive, an idle watcher does not.
  #ensurePolling(): void {
    this.#poll ??= setInterval(() => {
      for (const id of [...this.#waiters.keys()]) this.#check(id, true)
    }, this.pollMs)
  }

  #stopPollingIfIdle(): void {
    if (this.#waiters.size || !this.#poll) return
    clearInterval(this.#poll)
    this.#poll = undefined
  }

  close(): void {
    this.#watcher?.close()
    clearInterval(this.#poll)
    this.#watcher = undefined
  }
}
