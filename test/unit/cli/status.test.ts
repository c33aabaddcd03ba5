import { describe, expect, it } from 'vitest'
import { humanDuration, statusText } from '../../../src/cli/job-view.js'
import { runBody } from '../../../src/cli/run-flags.js'

const now = Date.parse('2026-12-01T12:00:00Z')
const ago = (ms: number) => new Date(now - ms).toISOString()
const job = (o: Record<string, unknown>) => ({ id: 'j', name: null, image: 'busybox', cmd: null, exitCode: null, signal: null, reason: null, message: null, createdAt: ago(600_000), startedAt: null, finishedAt: null, usage: null, state: 'running', ...o }) as never

describe('ps STATUS, as docker writes it', () => {
  it.each([
    [500, 'Less than a second'], [1000, '1 second'], [59_000, '59 seconds'], [90_000, 'About a minute'], [180_000, '3 minutes'],
    [3_600_000 * 1.5, 'About an hour'], [3_600_000 * 5, '5 hours'], [86_400_000 * 3, '3 days'], [86_400_000 * 20, '2 weeks'],
  ])('%i ms → %s', (ms, want) => expect(humanDuration(ms)).toBe(want))

  it.each([
    [{ state: 'running', startedAt: ago(180_000) }, 'Up 3 minutes'],
    [{ state: 'running', startedAt: ago(180_000), health: { status: 'healthy' } }, 'Up 3 minutes (healthy)'],
    [{ state: 'running', startedAt: ago(2000), health: { status: 'starting' } }, 'Up 2 seconds (health: starting)'],
    [{ state: 'running', startedAt: ago(2000), health: { status: 'unhealthy' } }, 'Up 2 seconds (unhealthy)'],
    [{ state: 'backoff', exitCode: 1, nextAttemptAt: new Date(now + 5000).toISOString() }, 'Restarting (1) (next in 5 seconds)'],
    [{ state: 'exited', exitCode: 0, finishedAt: ago(300_000) }, 'Exited (0) 5 minutes ago'],
    [{ state: 'stopped', signal: 'SIGKILL', finishedAt: ago(1000) }, 'Stopped (SIGKILL) 1 second ago'],
    [{ state: 'failed', reason: 'IMAGE_NOT_FOUND', finishedAt: ago(1000) }, 'Failed (IMAGE_NOT_FOUND) 1 second ago'],
    [{ state: 'queued' }, 'Created'],
    [{ state: 'queued', restartCount: 2 }, 'Restarting'],
  ])('%o → %s', (o, want) => expect(statusText(job(o), now)).toBe(want))
})

describe('service flags of skiff run', () => {
  it('fill the API fields', () => {
    const body = runBody({ restart: 'on-failure:3', backoff: 'initial=0,max=5s,factor=3', 'health-cmd': 'curl -f localhost', 'health-interval': '5s', 'health-retries': '4', 'health-on-failure': 'restart', 'stop-signal': 'SIGQUIT', 'stop-timeout': '3', rm: true }, ['busybox'])
    expect(body).toMatchObject({
      restart: 'on-failure:3', backoff: { initial: '0', max: '5s', factor: 3 },
      healthcheck: { cmd: 'curl -f localhost', interval: '5s', retries: 4 }, on_unhealthy: 'restart',
      stop_signal: 'SIGQUIT', stop_timeout: 3, auto_remove: true,
    })
    expect(runBody({ 'no-healthcheck': true }, ['busybox']).healthcheck).toBe('none')
  })
  it('name the flag when a value is wrong', () => {
    expect(() => runBody({ backoff: 'initial' }, ['busybox'])).toThrow(expect.objectContaining({ extra: { field: '--backoff' } }))
    expect(() => runBody({ 'health-retries': 'x' }, ['busybox'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})
