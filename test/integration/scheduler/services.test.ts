import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { waitFor } from '../../helpers/wait.js'

// Services on a real daemon: real crun through conmon, real overlayfs, restarts
// with small real delays. Nothing here waits on a sleep being long enough: it
// polls for the state it needs, with generous ceilings for slow machines.
const daemon = useBusyboxDaemon({ maxConcurrent: 8 })

const until = <T>(what: string, f: () => Promise<T | undefined | false>) => waitFor(what, f, { timeoutMs: 60_000, everyMs: 25 })
const job = (d: TestDaemon, id: string) => d.api('GET', `/jobs/${id}`).then((r) => r.json)
const attempts = (d: TestDaemon, id: string) => d.api('GET', `/jobs/${id}/attempts`).then((r) => r.json.items as any[])
const state = (d: TestDaemon, id: string, s: string) => until(`${id} ${s}`, async () => ((await job(d, id)).state === s ? job(d, id) : undefined))
/** The delays the daemon decided, from its restart events ("restart N in X ms (…)"). */
const decided = async (d: TestDaemon, id: string) =>
  ((await d.api('GET', `/jobs/${id}/events`)).json.items as { state: string; detail: string }[])
    .filter((e) => e.state === 'backoff')
    .map((e) => Number(/in (\d+) ms/.exec(e.detail)![1]))

describe('restart policies, for real', () => {
  it('on-failure:3 on exit 1: 3 restarts with growing delays, then exited with 4 attempts, each with its own logs', async () => {
    const d = daemon()
    const r = await d.api('POST', '/run', { image: 'busybox', cmd: 'echo try; exit 1', restart: 'on-failure:3', backoff: { initial: '50ms', factor: 2 } })
    expect(r.status, r.text).toBe(201)
    const id = r.json.id
    const done = (await d.api('POST', `/jobs/${id}/wait?timeout=60s`)).json
    expect(done).toMatchObject({ state: 'exited', exitCode: 1, restartCount: 3, attempt: 4, restart: 'on-failure:3' })
    expect(await decided(d, id)).toEqual([50, 100, 200])
    const as = await attempts(d, id)
    expect(as.map((a) => [a.n, a.containerId, a.state, a.exitCode])).toEqual([1, 2, 3, 4].map((n) => [n, `${id}.${n}`, 'exited', 1]))
    // each restart came no sooner than its delay after the previous exit
    for (let i = 1; i < 4; i++) expect(Date.parse(as[i].createdAt) - Date.parse(as[i - 1].finishedAt)).toBeGreaterThanOrEqual([50, 100, 200][i - 1]! - 1)
    for (let n = 1; n <= 4; n++) expect((await d.api('GET', `/jobs/${id}/logs?attempt=${n}`)).text).toBe('try\n')
    expect((await d.api('GET', `/jobs/${id}/logs`)).text).toBe('try\n'.repeat(4))
    const nd = (await d.api('GET', `/jobs/${id}/logs`, undefined, { accept: 'application/x-ndjson' })).text.trim().split('\n').map((l) => JSON.parse(l))
    expect(nd.filter((x) => x.attempt).map((x) => x.attempt.n)).toEqual([2, 3, 4])
    expect(nd.filter((x) => x.data).map((x) => x.offset)).toEqual([0, 4, 8, 12])
    expect((await d.api('GET', `/jobs/${id}/logs?attempt=9`)).json.error.code).toBe('ATTEMPT_NOT_FOUND')
  })

  it('on-failure on exit 0 does not restart', async () => {
    const d = daemon()
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'true', restart: 'on-failure' })
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 0, restartCount: 0, attempt: 1 })
  })

  it('always on a crashing job: keeps restarting with capped backoff; a long enough run resets the delay', async () => {
    const d = daemon()
    const crash = (await d.api('POST', '/run', { image: 'busybox', cmd: 'exit 2', restart: 'always', backoff: { initial: '20ms', max: '80ms' } })).json.id
    const slow = (await d.api('POST', '/run', { image: 'busybox', cmd: 'sleep 0.3; exit 2', restart: 'always', backoff: { initial: '20ms', max: '80ms', reset_after: '250ms' } })).json.id
    await until('6 restarts', async () => (await job(d, crash)).restartCount >= 6)
    await until('3 restarts', async () => (await job(d, slow)).restartCount >= 3)
    await Promise.all([d.api('POST', `/jobs/${crash}/stop`), d.api('POST', `/jobs/${slow}/stop`)])
    expect((await decided(d, crash)).slice(0, 6)).toEqual([20, 40, 80, 80, 80, 80])
    expect((await decided(d, slow)).slice(0, 3)).toEqual([20, 20, 20]) // every attempt ran ≥ reset_after
    expect(await job(d, crash)).toMatchObject({ state: 'stopped', stoppedByUser: true })
  })
})

describe('stop, start, restart, update', () => {
  it('stop with a timeout on a job that ignores SIGTERM: SIGKILL after the timeout, stopped, nothing left behind', async () => {
    const d = daemon()
    // as pid 1, sleep does not die of SIGTERM (no handler): the kill must follow
    const id = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'] })).json.id
    await state(d, id, 'running')
    const t0 = Date.now()
    const r = await d.api('POST', `/jobs/${id}/stop`, { timeout: '1s' })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000)
    expect(r.status, r.text).toBe(200)
    expect(r.json).toMatchObject({ state: 'stopped', signal: 'SIGKILL', stoppedByUser: true })
    const cid = `${id}.1`
    await until('teardown', async () => !readFileSync('/proc/self/mounts', 'utf8').includes(join(d.dataDir, 'runtime/containers', cid)))
    await until('bundle gone', async () => {
      try {
        statSync(join(d.dataDir, 'runtime/containers', cid))
        return false
      } catch {
        return true
      }
    })
    // start: a new attempt on the same writable layer
    expect((await d.api('POST', `/jobs/${id}/start`)).status).toBe(202)
    await state(d, id, 'running')
    expect((await job(d, id)).attempt).toBe(2)
    // restart: stop (SIGKILL after 0.2 s) then start
    expect((await d.api('POST', `/jobs/${id}/restart`, { timeout: '200ms' })).status).toBe(202)
    await until('attempt 3 running', async () => {
      const j = await job(d, id)
      return j.attempt === 3 && j.state === 'running'
    })
    // update: the policy of a live job
    const u = await d.api('PATCH', `/jobs/${id}`, { restart: 'unless-stopped' })
    expect(u.json.restart).toBe('unless-stopped')
    expect((await d.api('PATCH', `/jobs/${id}`, { restart: 'sometimes' })).json.error.field).toBe('restart')
    await d.api('POST', `/jobs/${id}/stop`, { timeout: 0 })
    expect((await attempts(d, id)).map((a) => a.state)).toEqual(['stopped', 'stopped', 'stopped'])
  })

  it('the writable layer is kept across restarts; auto_remove is refused with a restart policy', async () => {
    const d = daemon()
    const id = (await d.api('POST', '/run', { image: 'busybox', cmd: 'cat /count 2>/dev/null; echo x >> /count; exit 1', restart: 'on-failure:2', backoff: { initial: 0 } })).json.id
    await d.api('POST', `/jobs/${id}/wait?timeout=30s`)
    expect((await d.api('GET', `/jobs/${id}/logs?attempt=3`)).text).toBe('x\nx\n')
    const bad = await d.api('POST', '/run', { image: 'busybox', cmd: 'true', restart: 'always', auto_remove: true })
    expect(bad.json.error.field).toBe('auto_remove')
    const rm = (await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'echo hi > /f', auto_remove: true })).json
    expect(rm.state).toBe('exited')
    await until('layer removed', async () => {
      try {
        statSync(join(d.dataDir, 'runtime/layers', rm.id))
        return false
      } catch {
        return true
      }
    })
    expect((await d.api('GET', `/jobs/${rm.id}`)).status).toBe(200) // the record stays
    expect(statSync(join(d.dataDir, 'runtime/layers', id)).isDirectory()).toBe(true)
    expect((await d.api('DELETE', `/jobs/${id}`)).status).toBe(204)
    expect(() => statSync(join(d.dataDir, 'runtime/layers', id))).toThrow()
  })
})

describe('healthchecks, for real', () => {
  it('failing 3 times makes the job unhealthy; on_unhealthy restart brings it back healthy', async () => {
    const d = daemon()
    // the first attempt never becomes healthy; the second (same writable layer) does
    const id = (
      await d.api('POST', '/run', {
        image: 'busybox',
        cmd: 'if [ -e /marker ]; then touch /ok; else touch /marker; fi; exec sleep 1000',
        healthcheck: { cmd: 'test -e /ok', interval: '100ms', timeout: '5s', retries: 3 },
        on_unhealthy: 'restart',
        stop_timeout: '100ms',
        backoff: { initial: 0 },
      })
    ).json.id
    const healthy = await until('healthy on attempt 2', async () => {
      const j = await job(d, id)
      return j.attempt === 2 && j.health?.status === 'healthy' && j
    })
    expect(healthy.health.log.at(-1)).toMatchObject({ exitCode: 0 })
    const as = await attempts(d, id)
    expect(as[0]).toMatchObject({ reason: 'unhealthy', signal: 'SIGKILL' })
    const ev = (await d.api('GET', `/jobs/${id}/events`)).json.items as { detail: string | null }[]
    expect(ev.some((e) => /restart 1 in \d+ ms \(unhealthy\)/.test(e.detail ?? ''))).toBe(true)
    await d.api('POST', `/jobs/${id}/stop`, { timeout: 0 })
  })
})

describe('live-restore', () => {
  const logBytes = (d: TestDaemon, id: string) => statSync(join(d.dataDir, 'logs', id, 'container.log')).size

  it('kill -9 of the daemon: the service keeps running and is re-adopted (same attempt, continuous logs)', async () => {
    const d = daemon()
    const id = (await d.api('POST', '/run', { image: 'busybox', cmd: 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done', restart: 'always' })).json.id
    await state(d, id, 'running')
    await d.kill9()
    const before = logBytes(d, id)
    await until('output while the daemon is down', async () => logBytes(d, id) > before + 200)
    await d.restart()
    await until('more output after', async () => logBytes(d, id) > before + 400)
    expect(await job(d, id)).toMatchObject({ state: 'running', attempt: 1, restartCount: 0 })
    const lines = (await d.api('GET', `/jobs/${id}/logs`)).text.trim().split('\n')
    lines.forEach((l, i) => expect(l).toBe(`tick ${i}`)) // nothing lost, nothing doubled

    // the container dies while the daemon is down: restarted per policy, its exit recorded
    await d.kill9()
    execFileSync('crun', ['--root', join(d.dataDir, 'runtime/state'), 'kill', `${id}.1`, 'KILL'])
    await d.restart()
    await until('attempt 2 running', async () => {
      const j = await job(d, id)
      return j.attempt === 2 && j.state === 'running'
    })
    expect((await attempts(d, id))[0]).toMatchObject({ state: 'exited', signal: 'SIGKILL' })
    await d.api('POST', `/jobs/${id}/stop`, { timeout: 0 })
  })

  it('unless-stopped stopped by the user stays stopped across a daemon restart; always comes back', async () => {
    const d = daemon()
    const a = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'], restart: 'unless-stopped' })).json.id
    const b = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'], restart: 'always' })).json.id
    await Promise.all([state(d, a, 'running'), state(d, b, 'running')])
    await Promise.all([d.api('POST', `/jobs/${a}/stop`, { timeout: 0 }), d.api('POST', `/jobs/${b}/stop`, { timeout: 0 })])
    await d.stop()
    await d.restart()
    await until('always is back', async () => {
      const j = await job(d, b)
      return j.state === 'running' && j.attempt === 2
    })
    expect(await job(d, a)).toMatchObject({ state: 'stopped', attempt: 1 })
    await d.api('POST', `/jobs/${b}/stop`, { timeout: 0 })
  })
})
