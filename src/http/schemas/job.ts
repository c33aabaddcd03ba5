import { z } from 'zod'
import { JOB_STATES } from '../../scheduler/index.js'
import type { Job } from '../../scheduler/index.js'

export const UsageSchema = z.object({ wallMs: z.number(), cpuUserMs: z.number(), cpuSysMs: z.number(), memoryPeakBytes: z.number() })

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
  links: z.object({ self: z.string(), logs: z.string(), ws: z.string(), attach: z.string().optional(), stdin: z.string().optional() }),
})
export type JobView = z.infer<typeof JobViewSchema>

export const RunResultSchema = JobViewSchema.extend({
  stdout: z.string().describe('tail of the job\'s stdout (utf-8, at most 1 MiB)'),
  stderr: z.string(),
  truncated: z.boolean(),
})

export function toJobView(j: Job): JobView {
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
    links: {
      self: `/jobs/${j.id}`, logs: `/jobs/${j.id}/logs`, ws: `/jobs/${j.id}/logs/ws`,
      ...(j.spec.interactive ? { attach: `/jobs/${j.id}/attach`, stdin: `/jobs/${j.id}/stdin` } : {}),
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
