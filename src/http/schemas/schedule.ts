import { z } from 'zod'
import { isSkiffError, SkiffError } from '../../lib/errors.js'
import { parseDuration } from '../../lib/units.js'
import { JOB_STATES, type Schedule, type ScheduleInput, type SchedulePatch, type ScheduleView } from '../../scheduler/index.js'
import { RunRequestSchema, toRunSpec, type RunRequest } from './run-request.js'

const duration = z.union([z.string().min(1), z.number().nonnegative()])
const History = z
  .object({
    success: z.number().int().min(0).max(1000).optional().describe('finished runs kept that exited 0 (default 3)'),
    failed: z.number().int().min(0).max(1000).optional().describe('other finished runs kept (default 1)'),
  })
  .strict()

const fields = {
  cron: z.string().min(1).max(256).describe('5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly/@daily/@weekly/@monthly/@yearly…'),
  timezone: z.string().min(1).max(64).optional().describe('IANA zone the cron fields are read in (default UTC); DST rule in src/scheduler/cron.ts'),
  job: RunRequestSchema.describe('the body of POST /run; every tick starts one run of it'),
  concurrency: z.enum(['allow', 'forbid', 'replace']).optional().describe('while a run is active: allow another (default), forbid (skip and record the tick), replace (stop the old one)'),
  starting_deadline: duration.nullable().optional().describe('a tick may start at most this late (e.g. "10m"); null or absent: any lateness'),
  catch_up: z.enum(['skip', 'once', 'all']).optional().describe('ticks nobody fired in time (daemon down): skip them, run the newest once (default), or run them all up to max_catch_up'),
  max_catch_up: z.number().int().min(0).max(100).optional().describe('catch_up: all runs at most this many, oldest first (default 3)'),
  history: History.optional(),
  suspend: z.boolean().optional().describe('true: no ticks fire; resuming starts from now'),
  jitter: duration.optional().describe('delay each run by a random (per tick, stable) amount below this, e.g. "30s"'),
}

export const ScheduleRequestSchema = z
  .object({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must match [A-Za-z0-9][A-Za-z0-9_.-]{0,99}'), ...fields })
  .strict()
export const SchedulePatchSchema = z.object({ ...fields, cron: fields.cron.optional(), job: fields.job.optional() }).strict()

export type ScheduleRequest = z.output<typeof ScheduleRequestSchema>
export type SchedulePatchRequest = z.output<typeof SchedulePatchSchema>

/** toRunSpec names fields from the job's root; here they live under `job.` */
function jobSpec(r: RunRequest) {
  try {
    return toRunSpec(r)
  } catch (e) {
    if (isSkiffError(e) && e.extra.field) throw new SkiffError(e.kind, e.code, `job.${e.message}`, { ...e.extra, field: `job.${e.extra.field}` })
    throw e
  }
}

function specFields(r: SchedulePatchRequest): Partial<ScheduleInput> {
  const out: Partial<ScheduleInput> = {}
  if (r.cron !== undefined) out.cron = r.cron
  if (r.timezone !== undefined) out.timezone = r.timezone
  if (r.concurrency !== undefined) out.concurrency = r.concurrency
  if (r.starting_deadline !== undefined) out.startingDeadlineMs = r.starting_deadline === null ? null : parseDuration(r.starting_deadline, 'starting_deadline')
  if (r.catch_up !== undefined) out.catchUp = r.catch_up
  if (r.max_catch_up !== undefined) out.maxCatchUp = r.max_catch_up
  if (r.jitter !== undefined) out.jitterMs = parseDuration(r.jitter, 'jitter')
  if (r.job !== undefined) Object.assign(out, { job: jobSpec(r.job), jobRequest: r.job })
  if (r.suspend !== undefined) out.suspend = r.suspend
  return out
}

export function toScheduleInput(r: ScheduleRequest): ScheduleInput {
  return {
    ...specFields(r),
    name: r.name, cron: r.cron, job: jobSpec(r.job), jobRequest: r.job,
    ...(r.history ? { history: { success: r.history.success ?? 3, failed: r.history.failed ?? 1 } } : {}),
  }
}

export function toSchedulePatch(r: SchedulePatchRequest, cur: Schedule): SchedulePatch {
  return {
    ...specFields(r),
    ...(r.history ? { history: { success: r.history.success ?? cur.history.success, failed: r.history.failed ?? cur.history.failed } } : {}),
  }
}

/** 600000 → "10m", 5400000 → "1h30m", 1500 → "1.5s": the Go-style durations the API accepts. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1000) return `${ms}ms`
  const parts: string[] = []
  let rest = ms
  for (const [u, n] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)}${u}`)
      rest %= n
    }
  }
  if (rest) parts.push(`${rest / 1000}s`)
  return parts.join('')
}

const RunView = z.object({
  id: z.string(), name: z.string().nullable(), state: z.enum(JOB_STATES), trigger: z.enum(['schedule', 'catch-up', 'manual']),
  scheduled_time: z.string(), exit_code: z.number().nullable(), created_at: z.string(), started_at: z.string().nullable(), finished_at: z.string().nullable(),
})
const MissView = z.object({ scheduled_time: z.string(), outcome: z.enum(['missed', 'skipped']), reason: z.string().nullable(), recorded_at: z.string() })

const common = {
  name: z.string(), id: z.string(), cron: z.string(), timezone: z.string(), concurrency: z.enum(['allow', 'forbid', 'replace']),
  starting_deadline: z.string().nullable(), catch_up: z.enum(['skip', 'once', 'all']), max_catch_up: z.number(),
  history: z.object({ success: z.number(), failed: z.number() }), suspend: z.boolean(), jitter: z.string(),
  last_tick: z.string().describe('the newest tick handled (run, missed or skipped); no tick at or before it fires'),
  missed_total: z.number(), created_at: z.string(), updated_at: z.string(),
}
export const ScheduleSummarySchema = z.object({ ...common, next: z.string().nullable(), active: z.number() })
export const ScheduleViewSchema = z.object({
  ...common,
  job: z.unknown().describe('the job as sent'),
  next: z.array(z.string()).describe('the next 5 fire times (nominal, before jitter); empty while suspended'),
  active: z.array(z.string()).describe('ids of runs that have not ended'),
  runs: z.array(RunView).describe('newest first'),
  misses: z.array(MissView).describe('ticks that did not run, newest first'),
  links: z.object({ self: z.string(), trigger: z.string(), runs: z.string() }),
})

const base = (s: Schedule) => ({
  name: s.name, id: s.id, cron: s.cron, timezone: s.timezone, concurrency: s.concurrency,
  starting_deadline: s.startingDeadlineMs === null ? null : formatDuration(s.startingDeadlineMs),
  catch_up: s.catchUp, max_catch_up: s.maxCatchUp, history: s.history, suspend: s.suspended, jitter: formatDuration(s.jitterMs),
  last_tick: s.cursor.toISOString(), missed_total: s.missedTotal, created_at: s.createdAt.toISOString(), updated_at: s.updatedAt.toISOString(),
})

export function toScheduleSummary(s: Schedule, next: Date | undefined, active: number): z.infer<typeof ScheduleSummarySchema> {
  return { ...base(s), next: next?.toISOString() ?? null, active }
}

export function toScheduleView(v: ScheduleView): z.infer<typeof ScheduleViewSchema> {
  const s = v.schedule
  return {
    ...base(s),
    job: s.jobRequest,
    next: v.next.map((d) => d.toISOString()),
    active: v.active,
    runs: v.runs.map((r) => ({
      id: r.job.id, name: r.job.name, state: r.job.state, trigger: r.trigger, scheduled_time: r.scheduledTime.toISOString(), exit_code: r.job.exitCode,
      created_at: r.job.createdAt.toISOString(), started_at: r.job.startedAt?.toISOString() ?? null, finished_at: r.job.finishedAt?.toISOString() ?? null,
    })),
    misses: v.misses.map((m) => ({ scheduled_time: m.scheduledTime.toISOString(), outcome: m.outcome as 'missed' | 'skipped', reason: m.reason, recorded_at: m.recordedAt.toISOString() })),
    links: { self: `/schedules/${s.name}`, trigger: `/schedules/${s.name}/trigger`, runs: `/jobs?label=skiff.schedule=${encodeURIComponent(s.name)}` },
  }
}
