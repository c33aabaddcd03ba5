import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importBusybox, removeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js'
import { FINAL, until, view, type ScheduleView } from '../integration/schedules/helpers.js'

// kill -9 of the daemon at points of the schedule fire path, in a loop: before
// the tick's transaction, inside it, right after it, before a miss is recorded
// (SKIFF_TEST_CRASH_AT, src/daemon.ts), and at random instants. Afterwards
// every tick of the window has at most one run, and — all of them being within
// the deadline — exactly one; the skip schedule has exactly one record per tick.
const POINTS = ['fire:before-tx', 'fire:in-tx', 'fire:after-tx', 'miss:before-tx', 'random'] as const
const ROUNDS = 10

const dataDir = mkdtempSync(join(tmpdir(), 'skiff-cronkill-'))
let d: TestDaemon | undefined

afterAll(async () => {
  await d?.stop().catch(() => {})
  removeDataDir(dataDir)
})

/** Start a daemon that may kill itself at `point` (the n-th time); resolve once it is dead. */
async function crashOnce(env: Record<string, string>, boundMs: number): Promise<string> {
  let child: TestDaemon['child'] | undefined
  try {
    d = await startDaemon({ dataDir, env })
    child = d.child
  } catch (e) {
    if (/daemon exited/.test(String(e))) return 'died while starting'
    throw e
  }
  const gone = () => child!.exitCode !== null || child!.signalCode !== null
  const died = gone() || await Promise.race([
    new Promise<boolean>((r) => child!.once('exit', () => r(true))),
    new Promise<boolean>((r) => setTimeout(() => r(false), boundMs)),
  ])
  if (!died) await d.kill9()
  return died ? 'killed itself' : 'bound reached, killed -9'
}

describe('kill -9 in the schedule fire path', () => {
  it(`${ROUNDS} crashes: no tick runs twice, every tick within the deadline runs exactly once`, async () => {
    d = await startDaemon({ dataDir })
    await importBusybox(d)
    const job = { image: 'busybox', cmd: 'echo "$SKIFF_SCHEDULED_TIME"' }
    const history = { success: 1000, failed: 1000 }
    const start = Date.now()
    expect((await d.api('POST', '/schedules', { name: 'all', cron: '* * * * * *', catch_up: 'all', max_catch_up: 100, starting_deadline: '5m', history, job })).status).toBe(201)
    expect((await d.api('POST', '/schedules', { name: 'skip', cron: '* * * * * *', catch_up: 'skip', history, job })).status).toBe(201)
    const created = Date.now()
    await until('a first run', () => view(d!, 'all'), (v) => v.runs.length > 0)
    await d.kill9()

    const log: string[] = []
    for (let i = 0; i < ROUNDS; i++) {
      const point = POINTS[i % POINTS.length]!
      if (point === 'random') {
        d = await startDaemon({ dataDir })
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 1500)))
        await d.kill9()
        log.push(`${i} random kill`)
      } else {
        const n = 1 + Math.floor(Math.random() * 3)
        log.push(`${i} ${point}:${n} ${await crashOnce({ SKIFF_TEST_CRASH_AT: `${point}:${n}` }, 20_000)}`)
      }
    }
    // A clean daemon catches up, then both schedules stop where they are.
    d = await startDaemon({ dataDir })
    const back = Date.now()
    for (const name of ['all', 'skip']) {
      await until(`${name} caught up`, () => view(d!, name), (v) => Date.parse(v.last_tick) >= back + 1000)
      expect((await d.api('PATCH', `/schedules/${name}`, { suspend: true })).status).toBe(200)
    }
    // Runs end (bounded wait). Known gap outside the schedule code, reported to
    // the lead (issue #9, live-restore): a container whose creation a kill -9
    // interrupted is adopted as running after the restart and its exit never
    // arrives. Such runs still count as the tick's one run; they are named here
    // and must carry that adoption event, anything else stuck fails the test.
    const ended = (v: ScheduleView) => v.runs.every((r) => FINAL.has(r.state))
    const all = await until('runs of "all" ended', () => view(d!, 'all'), ended, 60_000).catch(() => view(d!, 'all'))
    const skip = await until('runs of "skip" ended', () => view(d!, 'skip'), ended, 60_000).catch(() => view(d!, 'skip'))
    const stuck = [...all.runs, ...skip.runs].filter((r) => !FINAL.has(r.state))
    for (const r of stuck) {
      const ev = (await d.api('GET', `/jobs/${r.id}/events`)).json.items as { detail: string | null }[]
      expect(ev.map((e) => e.detail), `run ${r.id} (${r.state}) stuck without a daemon-restart adoption`).toContain('adopted after daemon restart')
    }
    if (stuck.length) console.warn(`schedules-kill: ${stuck.length} run(s) adopted after a kill mid-create never reported their exit: ${stuck.map((r) => r.id).join(', ')}`)

    // Every whole second after the schedules were created, up to the last handled tick.
    const ticks = (v: ScheduleView) => {
      const out: string[] = []
      for (let t = Math.floor(created / 1000) * 1000 + 1000; t <= Date.parse(v.last_tick); t += 1000) out.push(new Date(t).toISOString())
      return out
    }
    const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>())
    const allRuns = count(all.runs.map((r) => r.scheduled_time))
    const window = ticks(all)
    expect(window.length, log.join('\n')).toBeGreaterThan(ROUNDS)
    expect([...allRuns.values()].every((n) => n === 1), 'a tick with two runs').toBe(true)
    expect(window.filter((t) => allRuns.get(t) !== 1), `ticks without their one run\n${log.join('\n')}`).toEqual([])
    expect(all.misses).toEqual([])
    // A run the kill caught between queued and running ends failed (reason
    // daemon-restart, the job service's reconcile rule; a kill during a catch-up
    // burst cuts several at once); every other one ran and exited 0.
    const notExited = all.runs.filter((r) => FINAL.has(r.state) && !(r.state === 'exited' && r.exit_code === 0))
    for (const r of notExited) expect((await d.api('GET', `/jobs/${r.id}`)).json, 'a run that neither exited 0 nor was cut by a restart').toMatchObject({ state: 'failed', reason: 'daemon-restart' })
    expect(all.runs.length - notExited.length).toBeGreaterThan(0)

    const skipRecords = count([...skip.runs.map((r) => r.scheduled_time), ...skip.misses.map((m) => m.scheduled_time)])
    expect(ticks(skip).filter((t) => skipRecords.get(t) !== 1), 'skip: a tick not recorded exactly once').toEqual([])
    expect(skip.misses.length).toBeGreaterThan(0)
    // Each run printed its own scheduled time.
    for (const r of all.runs.filter((x) => x.state === 'exited').slice(0, 20)) expect((await d.api('GET', `/jobs/${r.id}/logs`)).text).toBe(`${r.scheduled_time}\n`)
    expect(Date.now() - start).toBeLessThan(400_000)
  }, 480_000)
})
