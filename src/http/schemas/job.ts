import { z } from 'zod'
import { ATTEMPT_STATES, DEFAULT_KEEP_CONNECTIONS, formatRestartPolicy, JOB_STATES } from '../../scheduler/index.js'
import type { Attempt, ConnectionCounts, Job, JobNetworkView } from '../../scheduler/index.js'
import { JobNetworkSchema } from './network.js'

export const UsageSchema = z.object({ wallMs: z.number(), cpuUserMs: z.number(), cpuSysMs: z.number(), memoryPeakBytes: z.number() })

export const HealthViewSchema = z.object({
  status: z.enum(['starting', 'healthy', 'unhealthy']),
  failingStreak: z.number(),
  log: z.array(z.object({ start: z.string(), end: z.string(), exitCode: z.number().nullable(), output: z.string() })).describe('the last 5 probes'),
})

export const AttemptViewSchema = z.object({
  n: z.number(),
  containerId: z.string(),
  state: z.enum(ATTEMPT_STATES),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  oomKilled: z.boolean(),
  timedOut: z.boolean(),
  usage: z.object({ wallMs: z.number(), cpuUserMs: z.number(), cpuSysMs: z.number(), memoryPeakBytes: z.number() }).nullable(),
  logOffset: z.number().nullable().describe('where its output begins in the job\'s log: GET /jobs/{id}/logs?attempt=N'),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
})

export const toAttemptView = (a: Attempt): z.infer<typeof AttemptViewSchema> => ({
  n: a.n, containerId: a.containerId, state: a.state, reason: a.reason, message: a.message, exitCode: a.exitCode, signal: a.signal,
  oomKilled: a.oomKilled, timedOut: a.timedOut, usage: a.usage, logOffset: a.logOffset,
  createdAt: a.createdAt.toISOString(), startedAt: a.startedAt?.toISOString() ?? null, finishedAt: a.finishedAt?.toISOString() ?? null,
})

export const JobViewSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  state: z.enum(JOB_STATES),
  image: z.string(),
  imageId: z.string().nullable(),
  cmd: z.array(z.string()).nullable(),
  labels: z.record(z.string(), z.string()),
  exitCode: z.number().nullable(),
  signal: z.string().nullable(),
  oomKilled: z.boolean(),
  timedOut: z.boolean(),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  usage: UsageSchema.nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  interactive: z.boolean().describe('stdin stays open for /jobs/:id/attach and POST /jobs/:id/stdin'),
  network: JobNetworkSchema,
  tty: z.boolean().describe('the job runs on a pseudo-terminal (resize: POST /jobs/:id/resize or {"resize"} on the attach socket)'),
  restart: z.string().describe('restart policy: no | on-failure[:N] | always | unless-stopped'),
  restartCount: z.number().describe('attempts started after the first'),
  attempt: z.number().describe('the current (or last) attempt; exitCode, signal, usage… are those of the last attempt that ended'),
  nextAttemptAt: z.string().nullable().describe('in backoff: when the next attempt is queued'),
  stoppedByUser: z.boolean(),
  health: HealthViewSchema.nullable().describe('null: no healthcheck'),
  parentId: z.string().nullable().describe('a connection\'s job: the per-connection listener it belongs to'),
  listen: z
    .object({
      hostIp: z.string(),
      port: z.number(),
      maxConnections: z.number(),
      timeoutMs: z.number().nullable().describe('each connection\'s time limit (null: limits.timeout, else none)'),
      keep: z.number().describe('settled connection jobs kept with their logs'),
      connections: z.object({
        active: z.number().describe('connections being served (their jobs not settled)'),
        total: z.number().describe('connections accepted: each one is a job, GET /jobs?parent=ID'),
        refused: z.number().describe('connections reset unserved: max_connections reached, queue full, listener closing'),
      }),
    })
    .optional()
    .describe('a per-connection service: this job is its listener'),
  links: z.object({ self: z.string(), logs: z.string(), ws: z.string(), attempts: z.string(), attach: z.string().optional(), stdin: z.string().optional(), connections: z.string().optional(), parent: z.string().optional() }),
})
export type JobView = z.infer<typeof JobViewSchema>

export const RunResultSchema = JobViewSchema.extend({
  stdout: z.string().describe('tail of the job\'s stdout (utf-8, at most 1 MiB)'),
  stderr: z.string(),
  truncated: z.boolean(),
})

/** `net`: the job's address and published ports (networks service); without it, just the mode. */
export function toJobView(j: Job, net?: JobNetworkView, conns?: ConnectionCounts): JobView {
  const l = j.spec.listen
  return {
    id: j.id,
    name: j.name,
    state: j.state,
    image: j.image,
    imageId: j.imageId,
    cmd: j.spec.cmd ?? null,
    labels: j.labels,
    exitCode: j.exitCode,
    signal: j.signal,
    oomKilled: j.oomKilled,
    timedOut: j.timedOut,
    reason: j.reason,
    message: j.message,
    usage: j.usage,
    createdAt: j.createdAt.toISOString(),
    startedAt: j.startedAt?.toISOString() ?? null,
    finishedAt: j.finishedAt?.toISOString() ?? null,
    interactive: !!j.spec.interactive,
    restart: formatRestartPolicy(j.spec.restart ?? { mode: 'no' }),
    restartCount: j.restarts,
    attempt: j.attempt,
    nextAttemptAt: j.nextAttemptAt?.toISOString() ?? null,
    stoppedByUser: j.stoppedByUser,
    health: j.health && { status: j.health.status, failingStreak: j.health.failingStreak, log: j.health.log },
    network: net ?? { mode: j.spec.network.mode, ...(j.spec.network.name ? { name: j.spec.network.name } : {}), ports: [] },
    tty: !!j.spec.tty,
    parentId: j.parentId,
    ...(l ? {
      listen: {
        hostIp: l.hostIp, port: l.port, maxConnections: l.maxConnections, timeoutMs: l.timeoutMs ?? null, keep: l.keep ?? DEFAULT_KEEP_CONNECTIONS,
        connections: conns ?? { active: 0, total: j.connTotal, refused: j.connRefused },
      },
    } : {}),
    links: {
      self: `/jobs/${j.id}`, logs: `/jobs/${j.id}/logs`, ws: `/jobs/${j.id}/logs/ws`, attempts: `/jobs/${j.id}/attempts`,
      ...(j.spec.interactive ? { attach: `/jobs/${j.id}/attach`, stdin: `/jobs/${j.id}/stdin` } : {}),
      ...(l ? { connections: `/jobs?parent=${j.id}` } : {}),
      ...(j.parentId ? { parent: `/jobs/${j.parentId}` } : {}),
    },
  }
}

export const ListJobsQuery = z
  .object({
    state: z.string().optional().transform((s, ctx) => {
      if (!s) return undefined
      const states = s.split(',')
      for (const st of states) if (!(JOB_STATES as readonly string[]).includes(st)) ctx.addIssue({ code: 'custom', message: `unknown state ${JSON.stringify(st)}` })
      return states as (typeof JOB_STATES)[number][]
    }),
    name: z.string().optional(),
    parent: z.string().min(1).optional().describe('only the connections (child jobs) of this per-connection listener'),
    label: z.union([z.string(), z.array(z.string())]).optional(),
    all: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    before: z.string().optional(),
  })
  .strict()

export const KillSchema = z.object({ signal: z.union([z.string().min(1), z.number().int()]).optional().describe('SIGTERM, TERM, 15, SIGRTMIN+2 … (default SIGKILL)') }).strict()

export const ExecSchema = z
  .object({
    cmd: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    env: z.record(z.string().min(1), z.string()).optional(),
    user: z.string().optional().describe('name, uid, uid:gid or name:group, from the container\'s /etc/passwd'),
    workdir: z.string().startsWith('/').optional(),
    stdin: z.string().optional(),
    timeout: z.union([z.string(), z.number()]).optional().describe('kill the command after this long, e.g. "10s" (a number: seconds)'),
  })
  .strict()

export const ResizeSchema = z.object({ rows: z.number().int().min(1).max(65535), cols: z.number().int().min(1).max(65535) }).strict()
