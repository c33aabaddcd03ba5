import { describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'
import { cronAt, FINAL, roomInMinute, until, view } from './helpers.js'

// Schedules on a real daemon: real crun, real SQLite, the real clock. Every
// assertion is on the ticks the daemon recorded, never on a sleep having been
// long enough (CI may be 3x slower): a slow machine records the same ticks later.
const daemon = useBusyboxDaemon({ maxConcurrent: 8 })

describe('schedules on a real daemon', () => {
  it('an every-second schedule over 5 s: 5 ± 1 runs, each labeled with its scheduled time, each with its logs', async () => {
    const d = daemon()
    const c = await d.api('POST', '/schedules', {
      name: 'every-second', cron: '* * * * * *', history: { success: 100, failed: 100 },
      job: { image: 'busybox', cmd: 'echo "tick $SKIFF_SCHEDULED_TIME"' },
    })
    expect(c.status, c.text).toBe(201)
    const first = await until('a first run', () => view(d, 'every-second'), (v) => v.runs.length > 0)
    const w0 = Date.parse(first.runs[first.runs.length - 1]!.scheduled_time)
    // Until the daemon has handled every tick of the window [w0, w0 + 5 s).
    await until('5 s of ticks handled', () => view(d, 'every-second'), (v) => Date.parse(v.last_tick) >= w0 + 5000)
    expect((await d.api('PATCH', '/schedules/every-second', { suspend: true })).status).toBe(200)
    const v = await until('the runs to end', () => view(d, 'every-second'), (x) => x.runs.every((r) => FINAL.has(r.state)))
    const inWindow = v.runs.filter((r) => Date.parse(r.scheduled_time) >= w0 && Date.parse(r.scheduled_time) < w0 + 5000)
    expect(inWindow.length).toBeGreaterThanOrEqual(4)
    expect(inWindow.length).toBeLessThanOrEqual(6)
    expect(new Set(inWindow.map((r) => r.scheduled_time)).size).toBe(inWindow.length)
    for (const r of inWindow) {
      const job = (await d.api('GET', `/jobs/${r.id}`)).json
      expect(job).toMatchObject({ state: 'exited', exitCode: 0, labels: { 'skiff.schedule': 'every-second', 'skiff.scheduled-time': r.scheduled_time, 'skiff.trigger': 'schedule' } })
      expect((await d.api('GET', `/jobs/${r.id}/logs`)).text).toBe(`tick ${r.scheduled_time}\n`)
    }
    expect((await d.api('DELETE', '/schedules/every-second')).status).toBe(204)
  })

  it('forbid with a job sleeping 3 s on a 1-s schedule never has two runs active, and records the skipped ticks', async () => {
    const d = daemon()
    expect((await d.api('POST', '/schedules', { name: 'forbid', cron: '* * * * * *', concurrency: 'forbid', history: { success: 100 }, job: { image: 'busybox', cmd: ['sleep', '3'] } })).status).toBe(201)
    let maxActive = 0
    const v = await until('two runs of the forbid schedule to end', () => view(d, 'forbid'), (x) => {
      maxActive = Math.max(maxActive, x.active.length)
      return x.runs.filter((r) => FINAL.has(r.state)).length >= 2
    }, 90_000)
    await d.api('PATCH', '/schedules/forbid', { suspend: true })
    expect(maxActive).toBe(1)
    const done = v.runs.filter((r) => r.finished_at).sort((a, b) => a.started_at!.localeCompare(b.started_at!))
    for (let k = 1; k < done.length; k++) expect(Date.parse(done[k]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(done[k - 1]!.finished_at!))
    expect(v.misses.filter((m) => m.outcome === 'skipped' && m.reason === 'forbidden').length).toBeGreaterThanOrEqual(2)
    await d.api('DELETE', '/schedules/forbid?force=true')
  })

  it('replace stops the old run (its stop signal, SIGTERM) when the next tick comes', async () => {
    const d = daemon()
    const job = { image: 'busybox', cmd: ['sh', '-c', 'trap "exit 7" TERM; sleep 60 & wait'] }
    expect((await d.api('POST', '/schedules', { name: 'replace', cron: '*/2 * * * * *', concurrency: 'replace', history: { success: 100, failed: 100 }, job })).status).toBe(201)
    const v = await until('a replaced run', () => view(d, 'replace'), (x) => x.runs.some((r) => r.state === 'stopped'), 90_000)
    await d.api('PATCH', '/schedules/replace', { suspend: true })
    const killed = v.runs.find((r) => r.state === 'stopped')!
    expect(killed.exit_code).toBe(7) // its TERM trap ran: SIGTERM came first, no SIGKILL was needed
    const newer = v.runs.filter((r) => r.scheduled_time > killed.scheduled_time)
    expect(newer.length).toBeGreaterThanOrEqual(1)
    expect((await d.api('DELETE', '/schedules/replace?force=true')).status).toBe(204)
  })

  it('a manual trigger runs now, recorded as manual', async () => {
    const d = daemon()
    expect((await d.api('POST', '/schedules', { name: 'yearly', cron: '@yearly', job: { image: 'busybox', cmd: ['echo', 'manual'] } })).status).toBe(201)
    const t = await d.api('POST', '/schedules/yearly/trigger')
    expect(t.status, t.text).toBe(201)
    const done = (await d.api('POST', `/jobs/${t.json.id}/wait`)).json
    expect(done).toMatchObject({ state: 'exited', stdout: 'manual\n', labels: { 'skiff.trigger': 'manual', 'skiff.schedule': 'yearly' } })
    expect((await view(d, 'yearly')).runs.map((r) => r.trigger)).toEqual(['manual'])
    await d.api('DELETE', '/schedules/yearly')
  })

  it('daemon down for 3 ticks: once + covering deadline → one catch-up; short deadline → none, 3 misses; all + max_catch_up 2 after 5 → 2 runs, 3 misses', async () => {
    const d = daemon()
    await roomInMinute(25_000)
    // Ticks at chosen instants, all while the daemon is down: it is killed right
    // after the schedules are made, before the first, and restarted after the last.
    const s0 = Math.ceil(Date.now() / 1000) * 1000 + 6000
    const three = [0, 2, 4].map((k) => s0 + k * 1000)
    const five = [0, 2, 4, 6, 8].map((k) => s0 + k * 1000)
    const job = { image: 'busybox', cmd: ['echo', 'caught up'] }
    for (const [name, cron, extra] of [
      ['once-covering', cronAt(three), { catch_up: 'once', starting_deadline: '10m' }],
      ['once-short', cronAt(three), { catch_up: 'once', starting_deadline: '1s' }],
      ['all-2', cronAt(five), { catch_up: 'all', max_catch_up: 2 }],
    ] as const) expect((await d.api('POST', '/schedules', { name, cron, job, history: { success: 10 }, ...extra })).status).toBe(201)
    await d.kill9()
    expect(Date.now(), 'the daemon must be down before the first tick').toBeLessThan(s0)
    // Down until after the last tick (+2 s: past the short deadline however fast the restart).
    while (Date.now() < five[4]! + 2000) await new Promise((r) => setTimeout(r, 100))
    await d.restart()
    const get = async (name: string) => until(`${name}: runs ended`, () => view(d, name), (v) => Date.parse(v.last_tick) >= (name === 'all-2' ? five[4]! : three[2]!) && v.runs.every((r) => FINAL.has(r.state)))
    const iso = (t: number) => new Date(t).toISOString()

    const covering = await get('once-covering')
    expect(covering.runs.map((r) => [r.scheduled_time, r.trigger, r.state])).toEqual([[iso(three[2]!), 'catch-up', 'exited']])
    expect(covering.misses.map((m) => [m.scheduled_time, m.reason]).reverse()).toEqual([[iso(three[0]!), 'catch-up'], [iso(three[1]!), 'catch-up']])

    const short = await get('once-short')
    expect(short.runs).toEqual([])
    expect(short.misses.map((m) => [m.scheduled_time, m.reason]).reverse()).toEqual(three.map((t) => [iso(t), 'deadline']))

    const all = await get('all-2')
    expect(all.runs.map((r) => [r.scheduled_time, r.trigger, r.state]).reverse()).toEqual([[iso(five[0]!), 'catch-up', 'exited'], [iso(five[1]!), 'catch-up', 'exited']])
    expect(all.misses.map((m) => [m.scheduled_time, m.reason]).reverse()).toEqual(five.slice(2).map((t) => [iso(t), 'max-catch-up']))
    for (const name of ['once-covering', 'once-short', 'all-2']) await d.api('DELETE', `/schedules/${name}`)
  }, 120_000)
})
