import { FINAL_STATES } from '../../../src/scheduler/index.js'
import type { TestDaemon } from '../../helpers/daemon.js'

export interface RunView { id: string; name: string | null; state: string; trigger: string; scheduled_time: string; exit_code: number | null; started_at: string | null; finished_at: string | null }
export interface MissView { scheduled_time: string; outcome: string; reason: string | null }
export interface ScheduleView { name: string; last_tick: string; active: string[]; runs: RunView[]; misses: MissView[]; next: string[] }

export const FINAL: ReadonlySet<string> = FINAL_STATES

export async function view(d: TestDaemon, name: string): Promise<ScheduleView> {
  const r = await d.api('GET', `/schedules/${name}?runs=1000&misses=1000`)
  if (r.status !== 200) throw new Error(`GET /schedules/${name}: ${r.status} ${r.text}`)
  return r.json as ScheduleView
}

/** Poll (events, not a sleep long enough) until `done` holds; `what` names it in the timeout error. */
export async function until<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now()
  for (;;) {
    const v = await get()
    if (done(v)) return v
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A 6-field cron naming exactly these instants (all in one UTC minute). */
export function cronAt(instants: number[]): string {
  const d = instants.map((t) => new Date(t))
  const m = d[0]!
  if (d.some((x) => x.getUTCMinutes() !== m.getUTCMinutes() || x.getUTCHours() !== m.getUTCHours())) throw new Error('instants span a minute')
  return `${d.map((x) => x.getUTCSeconds()).join(',')} ${m.getUTCMinutes()} ${m.getUTCHours()} ${m.getUTCDate()} ${m.getUTCMonth() + 1} *`
}

/** Wait until the wall clock is early enough in its minute that `span` ms fit before the next one. */
export async function roomInMinute(spanMs: number): Promise<void> {
  while (Date.now() % 60_000 > 60_000 - spanMs - 2000) await new Promise((r) => setTimeout(r, 200))
}
