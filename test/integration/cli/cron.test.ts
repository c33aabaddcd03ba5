import { describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { until, view } from '../schedules/helpers.js'

// `skiff cron …` as users run it, against a real daemon over its unix socket.
const daemon = useBusyboxDaemon()

const skiff = (args: string[]) => runSkiff(daemon(), args)

describe('skiff cron', () => {
  it('add, ls, inspect, trigger, suspend, resume, rm', async () => {
    const add = await skiff(['cron', 'add', '--tz', 'Europe/Berlin', '--concurrency', 'forbid', '-e', 'WHO=cli', 'nightly', '30 2 * * *', 'busybox', 'sh', '-c', 'echo "$WHO $SKIFF_SCHEDULE"'])
    expect(add, add.stderr).toMatchObject({ code: 0 })
    expect(add.stdout).toMatch(/^nightly {2}next run \d{4}-\d\d-\d\dT\d\d:[03]0:00\.000Z\n$/)

    const ls = await skiff(['cron', 'ls'])
    expect(ls.stdout).toMatch(/^NAME +SCHEDULE +TIMEZONE +CONCURRENCY +NEXT +ACTIVE +MISSED\nnightly +30 2 \* \* \* +Europe\/Berlin +forbid +\S+ +0 +0\n$/)
    expect((await skiff(['cron', 'ls', '-q'])).stdout).toBe('nightly\n')

    const ins = JSON.parse((await skiff(['cron', 'inspect', 'nightly'])).stdout)
    expect(ins).toMatchObject({ name: 'nightly', timezone: 'Europe/Berlin', concurrency: 'forbid', job: { image: 'busybox', env: { WHO: 'cli' } } })
    expect(ins.next).toHaveLength(5)

    const t = await skiff(['cron', 'trigger', 'nightly'])
    expect(t.code, t.stderr).toBe(0)
    const id = t.stdout.trim()
    const done = (await daemon().api('POST', `/jobs/${id}/wait`)).json
    expect(done).toMatchObject({ state: 'exited', stdout: 'cli nightly\n', labels: { 'skiff.trigger': 'manual' } })

    expect((await skiff(['cron', 'suspend', 'nightly'])).stdout).toBe('nightly\n')
    expect((await view(daemon(), 'nightly')).next).toEqual([])
    expect((await skiff(['cron', 'resume', 'nightly'])).code).toBe(0)
    expect((await view(daemon(), 'nightly')).next).toHaveLength(5)

    expect((await skiff(['cron', 'rm', 'nightly'])).stdout).toBe('nightly\n')
    expect((await daemon().api('GET', `/jobs/${id}`)).status).toBe(404)
    const gone = await skiff(['cron', 'inspect', 'nightly'])
    expect(gone.code).toBe(125)
    expect(gone.stderr).toMatch(/schedule "nightly" not found/)
  })

  it('one-line errors naming the flag or the SCHEDULE; exit 125', async () => {
    const tz = await skiff(['cron', 'add', '--tz', 'Mars/Base', 'x', '@daily', 'busybox'])
    expect(tz.code).toBe(125)
    expect(tz.stderr).toMatch(/^skiff: --tz: "Mars\/Base" is not an IANA time zone/)
    const never = await skiff(['cron', 'add', 'x', '0 0 30 2 *', 'busybox'])
    expect(never.stderr).toMatch(/^skiff: SCHEDULE: "0 0 30 2 \*" never fires/)
    const mem = await skiff(['cron', 'add', '-m', '1k', 'x', '@daily', 'busybox'])
    expect(mem.stderr).toMatch(/^skiff: -m\/--memory: must be at least 4m/)
    expect((await skiff(['cron', 'ls', '-q'])).stdout).toBe('')
  })

  it('an every-second schedule made by the CLI fires and its runs are ordinary jobs', async () => {
    expect((await skiff(['cron', 'add', '--keep-success', '10', 'fast', '* * * * * *', 'busybox', 'echo', 'tick'])).code).toBe(0)
    const v = await until('two runs', () => view(daemon(), 'fast'), (x) => x.runs.filter((r) => r.state === 'exited').length >= 2)
    await skiff(['cron', 'suspend', 'fast'])
    const ps = await skiff(['ps', '-a', '-f', 'label=skiff.schedule=fast', '-q'])
    expect(ps.stdout.trim().split('\n')).toEqual(expect.arrayContaining(v.runs.filter((r) => r.state === 'exited').map((r) => r.id)))
    expect((await skiff(['cron', 'rm', '-f', 'fast'])).code).toBe(0)
  })
})
