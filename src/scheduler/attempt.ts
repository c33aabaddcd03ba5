import { constants } from 'node:os'
import type { ImageRecord } from '../images/index.js'
import type { Clock } from '../lib/clock.js'
import { SkiffError } from '../lib/errors.js'
import { containerSpec } from './container-spec.js'
import type { LiveAttempt } from './live.js'
import type { ImagesPort, ListenersPort, LogsPort, RuntimePort, NetworksPort } from './ports.js'
import type { StateWriter } from './state-writer.js'
import type { Job, RunSpec } from './types.js'

export interface AttemptDeps {
  images: ImagesPort
  runtime: RuntimePort
  logs: LogsPort
  writer: StateWriter
  clock: Clock
  /** resolves once the job's previous container is torn down (its overlay unmounted) */
  previousTeardown(jobId: string): Promise<void>
  /** bridge networks and published ports (networks.ts; absent: only none and host) */
  networks?: NetworksPort
  /** per-connection listeners (listener.ts; absent: a job with `listen` fails) */
  listeners?: ListenersPort
}

/** The user asked for a stop or kill while the attempt was still starting. */
export class AttemptCancelled extends Error {}

/** One attempt of a job: pull → create → start. The attempt's container is
 *  `<job>.<n>`; its output goes to the job's one log, and the attempt records
 *  the log offset where it begins. Each transition is committed before the next
 *  step; a stop or kill that arrives meanwhile is honoured at the next step. */
export async function runAttempt(job: Job, live: LiveAttempt, d: AttemptDeps, containerId: string): Promise<void> {
  const s = job.spec
  const image = await resolveImage(d.images, s, live.abort.signal)
  if (live.userStop || live.userKill) throw new AttemptCancelled()
  live.imageConfig = image.config
  live.stopSignal = stopSignalFor(s, image)
  d.writer.transition(job.id, 'starting', { imageId: image.id }, { state: 'starting' })
  if (s.listen) return startListener(job, live, d, containerId)
  const lowerDirs = await d.images.lowerDirs(image)
  // the writable layer is the job's: the last attempt's overlay must be gone before it is mounted again
  await d.previousTeardown(job.id)
  // Every earlier attempt's monitor has exited: the log ends where this one starts.
  d.writer.attemptLog(job.id, live.n, await d.logs.end(job.id))
  const network = await d.networks?.attach(job, containerId)
  live.container = await d.runtime.create(containerSpec({ containerId, job, image, lowerDirs, logPath: d.logs.pathFor(job.id), layerDir: d.runtime.layerDir?.(job.id), network }))
  if (live.userStop || live.userKill) throw new AttemptCancelled()
  if (s.interactive) {
    // Connected before the start, so the job can never read an early EOF.
    live.stdin = live.container.openStdin!()
    if (s.stdin !== undefined) void live.stdin.write(Buffer.from(s.stdin)).catch(() => {})
  }
  if (s.notBefore) {
    // Prepared ahead of its time (a scheduled tick): only the start is left for the instant.
    live.awaitingStart = true
    await untilTime(d.clock, Date.parse(s.notBefore), live.abort.signal)
    live.awaitingStart = false
    if (live.userStop || live.userKill || live.abort.signal.aborted) throw new AttemptCancelled()
  }
  await live.container.start()
  const now = d.clock.now()
  live.startedAtMs = now.getTime()
  d.writer.transition(job.id, 'running', { startedAt: now, finishedAt: null }, { state: 'running', startedAt: now })
}

/** Resolves at `at` by the clock, or at once when `signal` aborts. */
function untilTime(clock: Clock, at: number, signal: AbortSignal): Promise<void> {
  const ms = at - clock.now().getTime()
  if (!(ms > 0) || signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      timer.cancel()
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = clock.setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** A per-connection service's attempt: the image is pulled (its connections
 *  never wait for a registry), then the listener opens; no container of its own. */
async function startListener(job: Job, live: LiveAttempt, d: AttemptDeps, containerId: string): Promise<void> {
  if (!d.listeners) throw new SkiffError('unavailable', 'LISTEN_UNAVAILABLE', 'listen: this daemon has no per-connection listeners', { field: 'listen' })
  live.container = d.listeners.open(job, containerId)
  await live.container.start()
  if (live.userStop || live.userKill) throw new AttemptCancelled()
  const now = d.clock.now()
  live.startedAtMs = now.getTime()
  d.writer.transition(job.id, 'running', { startedAt: now, finishedAt: null }, { state: 'running', startedAt: now })
}

async function resolveImage(images: ImagesPort, spec: RunSpec, signal: AbortSignal): Promise<ImageRecord> {
  if (spec.pull !== 'always') {
    const have = images.resolve(spec.image)
    if (have) return have
    if (spec.pull === 'never')
      throw new SkiffError('failed_precondition', 'IMAGE_NOT_PRESENT', `image ${spec.image} is not present locally and pull is "never"`, { field: 'image' })
  }
  return images.pull(spec.image, { signal })
}

/** The job's stop_signal, else the image's StopSignal (docker's STOPSIGNAL), else SIGTERM. */
export function stopSignalFor(spec: RunSpec, image?: ImageRecord): NodeJS.Signals {
  const s = spec.stopSignal ?? image?.config.StopSignal ?? 'SIGTERM'
  return normalizeSignal(s) ?? 'SIGTERM'
}

const SIGNALS = constants.signals as Record<string, number>

/** "TERM", "SIGTERM", "15" → "SIGTERM"; undefined if it names no signal. */
export function normalizeSignal(s: string): NodeJS.Signals | undefined {
  if (/^\d+$/.test(s)) return (Object.entries(SIGNALS).find(([, n]) => n === Number(s))?.[0] as NodeJS.Signals | undefined)
  const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals
  return name in SIGNALS ? name : undefined
}
