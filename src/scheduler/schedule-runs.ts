import { createHash } from 'node:crypto'
import { ulid } from 'ulid'
import type { Scheduler } from './jobs.js'
import type { Schedule, SchedulerPort, TickTrigger } from './schedule-types.js'
import type { Job, RunSpec } from './types.js'

export const LABEL_SCHEDULE = 'skiff.schedule'
export const LABEL_SCHEDULED_TIME = 'skiff.scheduled-time'
export const LABEL_TRIGGER = 'skiff.trigger'

/** Pure: the id of the job of a tick. A ULID whose time part is the tick and
 *  whose random part is a hash of (schedule, tick): every attempt to fire the
 *  same tick — after a crash, on another node — names the same job, so the
 *  primary key refuses a second one even before the tick's unique key does. */
export function tickJobId(scheduleId: string, tick: number): string {
  const h = createHash('sha256').update(`${scheduleId}\0${tick}`).digest()
  let k = 0
  return ulid(tick, () => h[k++ % h.length]! / 256)
}

/** Pure: the run of one tick: the schedule's job, plus the scheduled time in
 *  env SKIFF_SCHEDULED_TIME and labels, and a name after the schedule. */
export function runSpecFor(s: Pick<Schedule, 'name' | 'job'>, tick: number, trigger: TickTrigger, notBefore?: number): RunSpec {
  const at = new Date(tick).toISOString()
  return {
    ...s.job,
    ...(notBefore !== undefined ? { notBefore: new Date(notBefore).toISOString() } : {}),
    name: trigger === 'manual' ? `${s.name}-manual-${tick}` : `${s.name}-${Math.floor(tick / 1000)}`,
    env: { ...s.job.env, SKIFF_SCHEDULE: s.name, SKIFF_SCHEDULED_TIME: at },
    labels: { ...s.job.labels, [LABEL_SCHEDULE]: s.name, [LABEL_SCHEDULED_TIME]: at, [LABEL_TRIGGER]: trigger },
  }
}

/** Pure: finished runs beyond the history limits, newest kept first. */
export function runsToPrune(finished: readonly { id: string; state: string; exitCode: number | null }[], history: Schedule['history']): string[] {
  let ok = 0
  let bad = 0
  const out: string[] = []
  for (const r of finished) {
    const success = r.state === 'exited' && r.exitCode === 0
    if (success ? ok++ < history.success : bad++ < history.failed) continue
    out.push(r.id)
  }
  return out
}

/** The job service as schedules see it: JobService's own submit/get/stop/remove
 *  (stop = docker stop: the job's stop signal, SIGKILL after the timeout, state
 *  `stopped`). */
export function schedulerPort(jobs: Pick<Scheduler, 'submit' | 'get' | 'stop' | 'remove'>): SchedulerPort {
  return {
    submit: (spec, o) => jobs.submit(spec, o),
    get: (id) => jobs.get(id),
    stop: (id, o) => jobs.stop(id, o),
    remove: (id, o) => jobs.remove(id, o),
  }
}
