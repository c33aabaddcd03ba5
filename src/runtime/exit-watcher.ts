import { closeSync, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'

/** One inotify watch on conmon's exit dir for every container, plus a slow poll
 *  as a backstop (inotify can miss events on some filesystems or under load). */
export class ExitWatcher {
  #watcher: FSWatcher | undefined
  #waiters = new Map<string, Set<(r: { code: number; atMs: number }) => void>>()
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

  wait(id: string, signal?: AbortSignal): Promise<{ code: number; atMs: number }> {
    this.#ensureWatching()
    return new Promise((resolve, reject) => {
      const set = this.#waiters.get(id) ?? new Set()
      this.#waiters.set(id, set)
      const done = (r: { code: number; atMs: number }) => {
        set.delete(done)
        if (!set.size) this.#waiters.delete(id)
        signal?.removeEventListener('abort', onAbort)
        this.#stopPollingIfIdle()
        resolve(r)
      }
      const onAbort = () => {
        set.delete(done)
        if (!set.size) this.#waiters.delete(id)
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

  #check(id: string): void {
    if (!this.#waiters.has(id)) return
    const r = this.read(id)
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
      for (const id of [...this.#waiters.keys()]) this.#check(id)
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
