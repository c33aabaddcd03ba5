import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.js'
import { lockDataDir, secureDataDir, secureDbFiles, secureOwnLogFiles } from './data-dir.js'
import { openDb } from './db/open.js'
import { EventBus } from './events.js'
import { createImageService } from './images/index.js'
import { realClock } from './lib/clock.js'
import { IdleReclaim } from './lib/idle-reclaim.js'
import { nativeWith } from './lib/native.js'
import { createLogger, type Logger } from './lib/log.js'
import { TokenFile } from './lib/token.js'
import { createLogStore } from './logs/index.js'
import { createRuntime, probeHostFacts } from './runtime/index.js'
import { JobRepo, JobService, ListenerService, NetworkRepo, NetworkService, parseProcRoutes, ScheduleRepo, ScheduleService, schedulerPort, type CrashPoint } from './scheduler/index.js'
import { createApp } from './http/app.js'
import { Metrics } from './http/metrics.js'
import { listen, type Listeners } from './http/server.js'
import { attachLogsWebSocket } from './http/routes/logs-ws.js'
import { authorizeUpgrade } from './http/middleware/auth.js'
import { TicketStore } from './http/tickets.js'
import { jobOutput } from './http/output.js'

export interface Daemon {
  config: Config
  listeners: Listeners
  token: TokenFile
  jobs: JobService
  log: Logger
  stop(): Promise<void>
}

/** Composition root: the only place that constructs concrete classes across layers. */
export async function startDaemon(config: Config, opts: { log?: Logger } = {}): Promise<Daemon> {
  const log = opts.log ?? createLogger({ level: config.logLevel })
  const dir = config.dataDir
  // a daemon log file (scripts/setup redirects our stdout/stderr into one) must not be readable by others
  for (const f of secureOwnLogFiles()) log.warn({ fd: f.fd, was: '0' + f.was.toString(8), now: '0600' }, 'daemon log file was readable by others: repaired')
  secureDataDir(dir, (msg, detail) => log.warn(detail, msg))
  const releaseLock = lockDataDir(dir)
  const token = new TokenFile(join(dir, 'token'), config.token)
  // never the token itself: logs are read by more people than the token should be
  if (token.ensure()) log.info({ file: token.path }, 'API token generated; TCP clients send "Authorization: Bearer <token>" (`skiff token` prints it)')

  const dbFile = join(dir, 'state.db')
  secureDbFiles(dbFile)
  const { db, close: closeDb } = openDb(dbFile)
  const events = new EventBus()
  const images = createImageService({ db, root: join(dir, 'images'), platform: config.platform, insecureRegistries: config.insecureRegistries, log })
  const runtime = createRuntime({ root: join(dir, 'runtime'), runtime: config.runtime, log })
  const logs = createLogStore({ root: join(dir, 'logs'), maxBytes: config.logMaxSize })
  const repo = new JobRepo(db)
  const networks = new NetworkService({
    repo: new NetworkRepo(db), runtime, events, log,
    config: { defaultBridge: config.defaultBridge, defaultSubnet: config.defaultSubnet, pool: config.networkPool },
    hostRoutes: () => parseProcRoutes(readFileSync('/proc/net/route', 'utf8')),
    // a published port and a per-connection listener may want the same host port: each names the other
    otherHolder: (ip, port, proto): string | undefined => (proto === 'tcp' ? connListeners.holderOf(ip, port) : undefined),
  })
  // per-connection services: connections' output is followed live from their logs
  const connListeners = new ListenerService({ logs, clock: realClock, log, otherHolder: (ip, port): string | undefined => networks.portHolderOf(ip, port) })
  const jobs = new JobService({
    networks, listeners: connListeners,
    repo, images, runtime, logs, clock: realClock, log, events,
    limits: { maxConcurrent: config.maxConcurrent, maxMemory: config.maxMemory, maxQueued: config.maxQueued },
    privileges: { allowedCapabilities: config.allowedCapabilities },
  })
  connListeners.bind(jobs)
  const schedules = new ScheduleService({
    repo: new ScheduleRepo(db), jobs: schedulerPort(jobs), clock: realClock, log, events,
    crash: crashHook(process.env.SKIFF_TEST_CRASH_AT, log),
    prepareMs: config.schedulePrepareMs,
  })
  const metrics = new Metrics({ jobsByState: () => repo.countByState(), queueDepth: () => jobs.queueDepth, running: () => jobs.runningCount })
  events.on('job.final', (j) => {
    metrics.jobsFinished.inc({ state: j.state })
    if (j.usage) metrics.jobDuration.observe({ state: j.state }, j.usage.wallMs / 1000)
  })

  // `gc` is there under --expose-gc (DAEMON_NODE_FLAGS); without either it does nothing
  const trim = nativeWith('malloc-trim')
  const reclaim = new IdleReclaim({
    quietMs: config.idleReclaimMs,
    gc: (globalThis as { gc?: () => void }).gc,
    trim: trim && (() => trim.mallocTrim!()),
    onReclaim: (ms) => {
      metrics.memoryReclaims.inc()
      log.debug({ ms, rss: process.memoryUsage.rss() }, 'idle: memory given back')
    },
  })
  const poke = () => reclaim.poke()
  events.on('job.state', poke)
  events.on('image.pulled', poke)
  const logDeps = {
    logs,
    jobs: {
      get: (id: string) => {
        const j = jobs.get(id)
        return j && { id: j.id, state: j.state, interactive: !!j.spec.interactive }
      },
      exited: async (id: string) => {
        const j = await jobs.wait(id)
        // reason: why a failed job never ran (EXECUTABLE_NOT_FOUND…), so a follower needs no second request
        return { exitCode: j.exitCode, signal: j.signal, state: j.state, reason: j.reason }
      },
      attempts: (id: string) => jobs.attempts(id).flatMap((a) => (a.logOffset === null ? [] : [{ n: a.n, offset: a.logOffset }])),
      onAttempt: (id: string, fn: (m: { n: number; offset: number }) => void) => {
        const on = (a: { jobId: string; n: number; logOffset: number }) => {
          if (a.jobId === id) fn({ n: a.n, offset: a.logOffset })
        }
        events.on('job.attempt', on)
        return () => void events.off('job.attempt', on)
      },
    },
  }
  const tickets = new TicketStore()
  const host = probeHostFacts()
  const app = createApp({
    jobs, networks, listeners: connListeners, images, logs: { output: (id, max) => jobOutput(logs, id, max) }, events, metrics, log, token: () => token.current(), tickets, bodyLimit: config.bodyLimit, logRoutes: logDeps, host: { ...host, disk: runtime.diskSupport() }, schedules,
  })
  await networks.start()
  await jobs.boot()
  // after the jobs' reconciliation: forbid/replace see the runs that survived
  schedules.start()
  const listeners = await listen(app, {
    socket: config.socket || undefined,
    listen: config.listen || undefined,
    allowPublic: config.allowPublicListen,
    onServer: (s) =>
      attachLogsWebSocket(s, {
        ...logDeps,
        authorize: (req) => authorizeUpgrade(req, token.current(), tickets),
        stdin: { write: (id, data) => jobs.writeStdin(id, data), close: (id) => jobs.closeStdin(id), resize: (id, rows, cols) => jobs.resize(id, rows, cols) },
        exec: { run: (id, cmd, o) => jobs.exec(id, cmd, o), host: () => host },
      }),
  })
  log.info({ socket: config.socket, tcp: listeners.tcpAddress, dataDir: dir, runtime: config.runtime }, 'skiff daemon ready')

  let stopped = false
  return {
    config, listeners, token, jobs, log,
    async stop() {
      if (stopped) return
      stopped = true
      schedules.stop()
      reclaim.close()
      connListeners.shutdown()
      await jobs.shutdown()
      networks.stop()
      await listeners.close()
      runtime.close()
      logs.close()
      await images.close()
      closeDb()
      releaseLock()
    },
  }
}

/** Test-only: SKIFF_TEST_CRASH_AT=<point>[:<n>] kills this daemon with SIGKILL
 *  the n-th time (default 1st) the schedule fire path reaches <point> (one of
 *  CrashPoint: fire:before-tx, fire:in-tx, fire:after-tx, miss:before-tx), so
 *  the crash tests can hit a precise point instead of hoping a kill -9 lands there. */
function crashHook(spec: string | undefined, log: Logger): ((p: CrashPoint) => void) | undefined {
  if (!spec) return undefined
  const m = /^(.*?)(?::(\d+))?$/.exec(spec)!
  const point = m[1]
  let left = Number(m[2] ?? 1) || 1
  log.warn({ point, n: left }, 'SKIFF_TEST_CRASH_AT is set: this daemon will kill itself (tests only)')
  return (p) => {
    if (p === point && --left === 0) process.kill(process.pid, 'SIGKILL')
  }
}

