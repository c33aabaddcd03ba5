// The logs layer: durable per-job logs with stable offsets, reads with filters,
// and lossless resumable following. See README.md for the design.
import { mkdirSync, statfsSync, statSync } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { invalidJobId } from './errors.js'
import { CapGuard } from './cap-guard.js'
import { followLog, WatchHub, type FollowOptions, type LogExit } from './follow.js'
import { compact, ensureMetaFile, LOG_FILE, loadMeta, LogCursor, type JobLog, type RetentionMeta } from './log-file.js'
import { coalesce, matchesStream, TailTracker, type LogRecord, type StreamSelector } from './query.js'

export type { LogRecord, StreamSelector } from './query.js'
export type { LogExit, FollowOptions } from './follow.js'
export type { RetentionMeta } from './log-file.js'
export type { Stream } from './record.js'
export { parseSince } from './query.js'
export { encodeRecord, encodeOutput, formatTs, parseRecords } from './record.js'
export { encodeFrame, frameHeader } from './frame.js'

export interface ReadQuery {
  /** Decoded offset to start at (a record straddling it is cut there). */
  from?: number
  /** Only the last N lines (after the stream filter). */
  tail?: number
  /** Only records stamped at or after this time. */
  since?: Date
  stream?: StreamSelector
  /** Merge adjacent same-stream records up to this many bytes. */
  coalesceBytes?: number
}

/**
 * Per-job logs. Lifecycle: `pathFor(id)` creates the job's log directory and
 * names the file the monitor (conmon, k8s-file driver) appends to; the file
 * outlives the container and the daemon; `read`/`follow` may be called at any
 * time, before the file exists (empty), while it grows, after the job ended;
 * `remove(id)` deletes it with the job record. Offsets are positions in the
 * job's decoded output and never change (retention punches holes, it never
 * renumbers). A size cap drops the oldest segments and readers get a marker
 * record carrying the dropped range.
 */
export interface LogStore {
  pathFor(jobId: string): string
  read(jobId: string, q?: ReadQuery): AsyncIterable<LogRecord>
  /** Disk first, then live. Yields every record with offset ≥ from exactly once, then the exit. */
  follow(jobId: string, from: number, signal: AbortSignal, opts: FollowOptions): AsyncIterable<LogRecord | { exit: LogExit }>
  /** The decoded offset just past the last complete record on disk now. */
  end(jobId: string): Promise<number>
  /** Bytes of the log file on disk (0 if none yet). Decoded output is always
   *  smaller (conmon adds a time, stream and tag to every line). */
  fileBytes(jobId: string): number
  /** Enforce the size cap now (also done by a background sweep). */
  compact(jobId: string): Promise<RetentionMeta | undefined>
  /** Decoded bytes of the job's output dropped because the data dir's filesystem was
   *  full (undefined: none, or not known to this process yet). */
  noSpaceLoss(jobId: string): number | undefined
  /** The monitor is done writing (the attempt's exit is known): the log is no longer
   *  watched, and a full filesystem no longer drops its older output. The size cap
   *  still holds (the sweep). `pathFor` (a next attempt) undoes it. */
  writerDone(jobId: string): void
  remove(jobId: string): Promise<void>
  /** Stop the background sweep. */
  close(): void
}

export interface LogStoreOptions {
  root: string
  /** Per-job cap on retained log file bytes (default 64 MiB). */
  maxBytes?: number
  /** Retention drops whole segments of this size (default maxBytes / 8). */
  segmentBytes?: number
  /** Background cap enforcement interval (default 5 s; 0 disables). */
  sweepMs?: number
  /** Follow's poll backstop when no inotify event arrives (default 1 s). */
  pollMs?: number
  /** Between two cap checks of one growing log, at least this long (default 10 ms). */
  capCheckGapMs?: number
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
const PAGE = 4096
/** below this much free space on the logs' filesystem, logs being written make room (see makeRoom) */
const LOW_WATER_BYTES = 1024 * 1024
/** seenSize of a log whose writer ended: no real size, so no growth is ever seen from it */
const WRITER_DONE = -1

export function createLogStore(o: LogStoreOptions): LogStore {
  const maxBytes = o.maxBytes ?? 64 * 1024 * 1024
  const segmentBytes = o.segmentBytes ?? Math.max(4096, Math.floor(maxBytes / 8))
  const hub = new WatchHub()
  const jobs = new Map<string, Promise<JobLog>>()
  const compacting = new Map<string, Promise<RetentionMeta | undefined>>()
  /** the size each log had at the last sweep: growth means someone writes it;
   *  WRITER_DONE once its writer ended (writerDone), so late growth arms nothing */
  const seenSize = new Map<string, number>()
  /** jobs whose output lost bytes to a full filesystem (decoded bytes dropped) */
  const noSpaceLoss = new Map<string, number>()

  const dirOf = (id: string) => {
    if (!JOB_ID.test(id) || id.includes('..')) throw invalidJobId(id)
    return join(o.root, id)
  }
  const jobLog = (id: string): Promise<JobLog> => {
    let p = jobs.get(id)
    if (!p) {
      const dir = dirOf(id)
      p = loadMeta(dir).then((meta) => {
        if (meta.noSpaceDropped) noSpaceLoss.set(id, meta.noSpaceDropped)
        return { dir, path: join(dir, LOG_FILE), meta, checkpoints: [] }
      })
      jobs.set(id, p)
    }
    return p
  }

  const store: LogStore = {
    pathFor(id) {
      const dir = dirOf(id)
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      // the monitor starts writing here: keep it within the cap as it grows
      seenSize.delete(id)
      guard.track(id, dir)
      return join(dir, LOG_FILE)
    },

    async *read(id, q = {}) {
      const log = await jobLog(id)
      const from = q.from ?? 0
      let starts: Record<'stdout' | 'stderr', number> = { stdout: from, stderr: from }
      if (q.tail !== undefined) {
        // Pass 1 finds where the last N lines begin; pass 2 yields from there.
        const t = new TailTracker(q.tail, q.stream)
        const c = new LogCursor(log, from)
        try {
          for (let recs = await c.next(); recs.length; recs = await c.next())
            for (const r of recs) if (!r.dropped && (!q.since || r.time >= q.since)) t.push(r)
        } finally {
          await c.close()
        }
        starts = t.starts()
      }
      const first = Math.min(starts.stdout, starts.stderr)
      if (first === Infinity) return
      // Without tail/since every record ≥ from is selected: merge while decoding (cheapest);
      // otherwise filter per conmon record (they carry their own time), then merge.
      const early = q.tail === undefined && !q.since ? (q.coalesceBytes ?? 0) : 0
      const c = new LogCursor(log, first, { coalesce: early })
      try {
        // a read, not a follow: a short read that was used up is the end
        for (let recs = await c.next(); recs.length; recs = c.atEof ? [] : await c.next()) {
          let out = recs.filter((r) => r.dropped ? q.tail === undefined && !q.since : matchesStream(q.stream, r.stream) && r.offset >= starts[r.stream] && (!q.since || r.time >= q.since))
          if (q.coalesceBytes && !early) out = coalesce(out, q.coalesceBytes)
          yield* out
        }
      } finally {
        // nobody waits for a read-only fd to close
        void c.close().catch(() => {})
      }
    },

    async *follow(id, from, signal, opts) {
      const log = await jobLog(id)
      yield* followLog(log, hub, from, signal, { pollMs: o.pollMs, ...opts })
    },

    fileBytes(id) {
      try {
        return statSync(join(dirOf(id), LOG_FILE)).size
      } catch {
        return 0
      }
    },

    async end(id) {
      const c = new LogCursor(await jobLog(id), Number.MAX_SAFE_INTEGER)
      try {
        await c.next() // nothing is ≥ MAX: reads to EOF
        return c.position
      } finally {
        await c.close()
      }
    },

    compact(id) {
      return once(id, (log) => compact(log, { maxBytes, segmentBytes }))
    },

    noSpaceLoss(id) {
      return noSpaceLoss.get(id)
    },

    writerDone(id) {
      // making room in a log nobody writes would drop output and unblock nobody, and the
      // loss reported with the job's exit would no longer be the whole loss
      seenSize.set(id, WRITER_DONE)
      guard.untrack(id)
    },

    async remove(id) {
      const dir = dirOf(id)
      jobs.delete(id)
      noSpaceLoss.delete(id)
      guard.untrack(id)
      seenSize.delete(id)
      await rm(dir, { recursive: true, force: true })
      hub.poke(dir)
    },

    close() {
      if (timer) clearInterval(timer)
      timer = undefined
      guard.close()
    },
  }

  // The cap is enforced by the daemon, not by conmon (conmon's --log-size-max
  // truncates the file in place, losing bytes a follower has not read yet):
  // as the file grows (CapGuard, inotify), and by a sweep that catches what the
  // guard does not watch. While the daemon is down a log can grow past the cap;
  // the first sweep after start brings it back, and arms the guard on logs
  // still being written (a container adopted after a restart).
  /** One compaction of a log at a time (the cap's or a full filesystem's). */
  const once = (id: string, run: (log: JobLog) => Promise<RetentionMeta | undefined>) => {
    let p = compacting.get(id)
    if (!p) {
      p = jobLog(id)
        .then(run)
        .finally(() => compacting.delete(id))
      compacting.set(id, p)
    }
    return p
  }
  // The data dir's filesystem full: conmon (2.1.6) retries a failed log write in a
  // tight loop, holding the job blocked on its stdout for as long as there is no
  // room. A log being written then drops its older half (in whole pages, with the
  // same marker a cap cut leaves), so the write goes through and the job goes on;
  // how much was lost this way is kept in the meta and reported with the job.
  const lowOnSpace = () => {
    try {
      const s = statfsSync(o.root)
      return s.bavail * s.bsize < LOW_WATER_BYTES
    } catch {
      return false
    }
  }
  const makeRoom = (id: string) =>
    once(id, async (log) => {
      const { size } = await stat(log.path)
      const retained = size - log.meta.fileStart
      if (retained < 4 * PAGE) return undefined
      const seg = Math.max(PAGE, Math.min(segmentBytes, Math.floor(retained / 4 / PAGE) * PAGE))
      const meta = await compact(log, { maxBytes: Math.floor(retained / 2), segmentBytes: seg, noSpace: true })
      if (meta?.noSpaceDropped) noSpaceLoss.set(id, meta.noSpaceDropped)
      return meta
    })
  const checkOne = async (id: string) => {
    const st = await stat(join(dirOf(id), LOG_FILE))
    const log = await jobLog(id)
    await ensureMetaFile(log)
    if (st.size - log.meta.fileStart > maxBytes) await store.compact(id)
    // only while watched: a check already running when its writer ended makes no room
    if (lowOnSpace() && guard.has(id)) await makeRoom(id)
  }
  const guard = new CapGuard({ check: checkOne, minGapMs: o.capCheckGapMs ?? 10 })
  const sweep = async () => {
    let names: string[]
    try {
      names = await readdir(o.root)
    } catch {
      return
    }
    for (const n of names) {
      if (!JOB_ID.test(n)) continue
      try {
        const st = await stat(join(o.root, n, LOG_FILE))
        const log = await jobLog(n)
        if (st.size - log.meta.fileStart > maxBytes) await store.compact(n)
        const before = seenSize.get(n)
        if (before === WRITER_DONE) continue
        seenSize.set(n, st.size)
        if (before !== undefined && st.size > before) guard.track(n, join(o.root, n))
        // a writer stuck on a full filesystem makes no inotify event: the sweep finds it
        else if (guard.has(n) && lowOnSpace()) await makeRoom(n)
      } catch {
        /* removed meanwhile, or no log yet */
      }
    }
    guard.pruneIdle(Math.max(2 * sweepMs, 1000))
  }
  let timer: NodeJS.Timeout | undefined
  const sweepMs = o.sweepMs ?? 5000
  if (sweepMs > 0) {
    timer = setInterval(() => void sweep(), sweepMs)
    timer.unref()
  }
  return store
}
