// Live following: disk first, then wake on growth. The follower is a pull-based
// async generator, so a slow consumer simply stops pulling and falls behind on
// disk; the daemon holds at most one chunk of records per follower.
import { watch, type FSWatcher } from 'node:fs'
import { LogCursor, type JobLog } from './log-file.js'
import { matchesStream, type LogRecord, type StreamSelector } from './query.js'

/** How a job ended, as the caller knows it (the scheduler's view). */
export interface LogExit {
  exitCode: number | null
  signal: string | null
  state?: string
  /** a failed job's reason code (EXECUTABLE_NOT_FOUND…) */
  reason?: string | null
}

export interface FollowOptions {
  /** Resolves once the job has exited (the monitor has drained its output by then). */
  exited: () => Promise<LogExit>
  stream?: StreamSelector
  /** Merge adjacent records of one stream up to this many bytes (0: one record per conmon line). */
  coalesceBytes?: number
  /** File bytes read per step (default DEFAULT_CHUNK). */
  chunkBytes?: number
  /** Backstop poll interval when no file event arrives (ms). */
  pollMs?: number
}

/** One inotify watch per job directory, shared by all its followers. */
export class WatchHub {
  readonly #dirs = new Map<string, { w: FSWatcher | undefined; waiters: Set<() => void>; refs: number }>()

  acquire(dir: string): { wait(ms: number, signal?: AbortSignal): Promise<void>; release(): void } {
    let e = this.#dirs.get(dir)
    if (!e) {
      const entry = { w: undefined as FSWatcher | undefined, waiters: new Set<() => void>(), refs: 0 }
      try {
        entry.w = watch(dir, { persistent: false }, () => {
          const ws = [...entry.waiters]
          entry.waiters.clear()
          for (const f of ws) f()
        })
        entry.w.on('error', () => entry.w?.close())
      } catch {
        /* no dir yet, or inotify exhausted: the poll backstop still works */
      }
      e = entry
      this.#dirs.set(dir, e)
    }
    const entry = e
    entry.refs++
    let released = false
    return {
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t)
            entry.waiters.delete(done)
            signal?.removeEventListener('abort', done)
            resolve()
          }
          const t = setTimeout(done, ms)
          entry.waiters.add(done)
          signal?.addEventListener('abort', done, { once: true })
        }),
      release: () => {
        if (released) return
        released = true
        if (--entry.refs === 0) {
          entry.w?.close()
          this.#dirs.delete(dir)
          for (const f of entry.waiters) f()
        }
      },
    }
  }

  /** Wake every follower of `dir` (e.g. the job exited). */
  poke(dir: string): void {
    const e = this.#dirs.get(dir)
    if (!e) return
    const ws = [...e.waiters]
    e.waiters.clear()
    for (const f of ws) f()
  }
}

/**
 * Yields every record with offset ≥ from exactly once (a record straddling
 * `from` is cut at it), then `{exit}`. Ends only when the job has exited and
 * the file has been read to EOF after that (conmon drains the pipes and syncs
 * the log before writing the exit file; we re-read to EOF anyway).
 */
export async function* followLog(log: JobLog, hub: WatchHub, from: number, signal: AbortSignal, o: FollowOptions): AsyncGenerator<LogRecord | { exit: LogExit }> {
  // Coalescing happens while decoding (in place, no per-line objects); the stream
  // filter after it is exact, because a run never mixes streams.
  const cursor = new LogCursor(log, from, { coalesce: o.coalesceBytes ?? 0, chunk: o.chunkBytes })
  const w = hub.acquire(log.dir)
  let exit: LogExit | undefined
  let exitErr: unknown
  let settled = false
  const exitP = o.exited().then(
    (e) => ((exit = e), (settled = true), hub.poke(log.dir)),
    (e) => ((exitErr = e), (settled = true), hub.poke(log.dir)),
  )
  void exitP
  try {
    while (!signal.aborted) {
      // Capture the exit state before reading: if it was known before this read
      // reached EOF, no byte can come after what this read saw.
      const wasSettled = settled
      let recs = await cursor.next({ final: wasSettled })
      if (recs.length) {
        if (o.stream && o.stream !== 'all') recs = recs.filter((r) => r.dropped || matchesStream(o.stream, r.stream))
        for (const r of recs) {
          if (signal.aborted) return
          yield r
        }
        continue
      }
      if (wasSettled) {
        if (exitErr) throw exitErr
        yield { exit: exit! }
        return
      }
      if (settled) continue // the exit arrived during the read: re-read to EOF as final, no wait
      await w.wait(o.pollMs ?? 1000, signal)
    }
  } finally {
    w.release()
    await cursor.close()
  }
}
