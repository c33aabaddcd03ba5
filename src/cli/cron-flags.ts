import { isSkiffError, SkiffError } from '../lib/errors.js'
import { usageError, type Flags } from './argv.js'
import type { FlagDef } from './command.js'
import { blameFlag, RUN_FLAGS, runBody, type RunFlag, type RunIO, realRunIO } from './run-flags.js'

/** A `skiff cron add` flag of the schedule itself; `field` is its API field. */
interface CronFlag extends FlagDef {
  field: string
  apply(body: Record<string, unknown>, value: string | boolean): void
}

const int = (flag: string, v: string): number => {
  if (!/^\d+$/.test(v)) throw usageError(`invalid argument ${JSON.stringify(v)} for ${flag}: not a whole number`, flag)
  return Number(v)
}
const history = (b: Record<string, unknown>) => (b.history ??= {}) as Record<string, number>

export const SCHEDULE_FLAGS: Record<string, CronFlag> = {
  tz: { type: 'string', value: 'ZONE', help: 'IANA time zone the schedule is read in, e.g. Europe/Berlin (default UTC)', field: 'timezone', apply: (b, v) => (b.timezone = v) },
  concurrency: { type: 'string', value: 'POLICY', help: 'while a run is active: allow (default), forbid (skip the tick) or replace (stop the old run)', field: 'concurrency', apply: (b, v) => (b.concurrency = v) },
  'starting-deadline': { type: 'string', value: 'DURATION', help: 'a tick may start at most this late, e.g. 10m (default: any lateness)', field: 'starting_deadline', apply: (b, v) => (b.starting_deadline = v) },
  'catch-up': { type: 'string', value: 'MODE', help: 'ticks missed while the daemon was down: skip, once (default: the newest) or all', field: 'catch_up', apply: (b, v) => (b.catch_up = v) },
  'max-catch-up': { type: 'string', value: 'N', help: 'with --catch-up all: at most N runs, oldest first (default 3)', field: 'max_catch_up', apply: (b, v) => (b.max_catch_up = int('--max-catch-up', v as string)) },
  'keep-success': { type: 'string', value: 'N', help: 'finished runs kept that exited 0 (default 3)', field: 'history.success', apply: (b, v) => (history(b).success = int('--keep-success', v as string)) },
  'keep-failed': { type: 'string', value: 'N', help: 'other finished runs kept (default 1)', field: 'history.failed', apply: (b, v) => (history(b).failed = int('--keep-failed', v as string)) },
  jitter: { type: 'string', value: 'DURATION', help: 'delay each run by a stable random amount below this, e.g. 30s', field: 'jitter', apply: (b, v) => (b.jitter = v) },
  suspend: { type: 'boolean', help: 'create it suspended (skiff cron resume starts it)', field: 'suspend', apply: (b) => (b.suspend = true) },
}

/** The run flags that make sense for a scheduled job (no -d/-i/-t/--rm/--name: runs are named after the schedule). */
const JOB_FLAGS: Record<string, RunFlag> = Object.fromEntries(
  Object.entries(RUN_FLAGS).filter(([k]) => !['detach', 'interactive', 'tty', 'rm', 'name', 'json'].includes(k)),
)

export const CRON_ADD_FLAGS: Record<string, FlagDef> = { ...SCHEDULE_FLAGS, ...JOB_FLAGS, json: { type: 'boolean', help: 'print the schedule as JSON' } }

/** Flags + NAME SCHEDULE IMAGE [CMD…] → the POST /schedules body. Pure but for `io`. */
export function cronAddBody(flags: Flags, positionals: readonly string[], io: RunIO = realRunIO): Record<string, unknown> {
  const [name, cron, ...rest] = positionals
  if (!name || !cron || !rest[0]) throw usageError('usage: skiff cron add [flags] NAME SCHEDULE IMAGE [CMD…]', 'args')
  const body: Record<string, unknown> = { name, cron }
  for (const [k, def] of Object.entries(SCHEDULE_FLAGS)) {
    const v = flags[k]
    if (v !== undefined && v !== false) def.apply(body, v as string | boolean)
  }
  const jobFlags = Object.fromEntries(Object.entries(flags).filter(([k]) => k in JOB_FLAGS))
  body.job = runBody(jobFlags, rest, io)
  return body
}

/** The daemon's INVALID_ARGUMENT about a field → the same error naming our flag
 *  (or SCHEDULE / NAME for the positionals). */
export function blameCronFlag(e: unknown): unknown {
  if (!isSkiffError(e) || e.kind !== 'invalid_argument' || !e.extra.field) return e
  const field = e.extra.field
  if (field.startsWith('job.')) {
    const inner = blameFlag(new SkiffError(e.kind, e.code, e.message.replace(/^job\./, ''), { ...e.extra, field: field.slice(4) }))
    return inner instanceof SkiffError && inner.extra.field !== field.slice(4) ? inner : e
  }
  const positional: Record<string, string> = { cron: 'SCHEDULE', name: 'NAME' }
  const hit = Object.entries(SCHEDULE_FLAGS).find(([, f]) => f.field === field || field.startsWith(f.field + '.'))
  const label = positional[field] ?? (hit ? `--${hit[0]}` : undefined)
  if (!label) return e
  const msg = e.message.startsWith(field + ':') ? e.message.slice(field.length + 1).trim() : e.message
  return new SkiffError(e.kind, e.code, `${label}: ${msg}`, { ...e.extra, field: label })
}

export const schedulePath = (name: string, rest = '') => `/schedules/${encodeURIComponent(name)}${rest}`
