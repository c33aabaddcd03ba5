import { describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { waitFor } from '../../helpers/wait.js'

// Services through the `skiff` CLI as users type it, against a real daemon.
const daemon = useBusyboxDaemon()
const skiff = (args: string[]) => runSkiff(daemon(), args)
const inspect = async (id: string) => JSON.parse((await skiff(['inspect', id])).stdout)
const psLine = async (id: string) => (await skiff(['ps', '-a'])).stdout.split('\n').find((l) => l.includes(id.slice(0, 12))) ?? ''

describe('skiff services', () => {
  it('run --restart on-failure:2: two restarts, then wait prints the exit code and ps says Exited (1)', async () => {
    const r = await skiff(['run', '-d', '--restart', 'on-failure:2', '--backoff', 'initial=0', 'busybox', 'sh', '-c', 'echo x; exit 1'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    expect(await skiff(['wait', id])).toMatchObject({ code: 1, stdout: '1\n' })
    expect(await inspect(id)).toMatchObject({ state: 'exited', restartCount: 2, attempt: 3, restart: 'on-failure:2' })
    expect(await psLine(id)).toMatch(/Exited \(1\) .* ago/)
    expect((await skiff(['logs', id])).stdout).toBe('x\nx\nx\n')
    const bad = await skiff(['run', '-d', '--restart', 'sometimes', 'busybox', 'true'])
    expect(bad.code).toBe(125)
    expect(bad.stderr).toContain('--restart')
  })

  it('health flags, ps "Up … (healthy)", stop -t, start, restart, update', async () => {
    const r = await skiff(['run', '-d', '--name', 'svc-cli', '--health-cmd', 'true', '--health-interval', '100ms', '--health-retries', '2', '--health-on-failure', 'restart', 'busybox', 'sleep', '1000'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    await waitFor('healthy in ps', async () => /Up .* \(healthy\)/.test(await psLine(id)))
    const t0 = Date.now()
    expect(await skiff(['stop', '-t', '1', 'svc-cli'])).toMatchObject({ code: 0, stdout: 'svc-cli\n' })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000) // sleep as pid 1 ignores SIGTERM
    expect(await psLine(id)).toMatch(/Stopped \(SIGKILL\)/)
    expect((await skiff(['ps'])).stdout).not.toContain(id.slice(0, 12))
    expect((await skiff(['start', 'svc-cli'])).code).toBe(0)
    await waitFor('running again', async () => (await inspect(id)).state === 'running')
    expect((await skiff(['restart', '-t', '0', 'svc-cli'])).code).toBe(0)
    await waitFor('attempt 3 running', async () => {
      const j = await inspect(id)
      return j.attempt === 3 && j.state === 'running'
    })
    expect(await skiff(['update', '--restart', 'always', 'svc-cli'])).toMatchObject({ code: 0 })
    expect((await inspect(id)).restart).toBe('always')
    expect((await skiff(['update', 'svc-cli'])).code).toBe(125)
    expect((await skiff(['stop', '-t', '0', 'svc-cli'])).code).toBe(0)
  })

  it('--rm keeps the record and logs, drops the writable layer', async () => {
    const r = await skiff(['run', '--rm', 'busybox', 'echo', 'hi'])
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' })
    const d = await skiff(['run', '-d', '--rm', 'busybox', 'echo', 'bye'])
    const id = d.stdout.trim()
    expect(await skiff(['wait', id])).toMatchObject({ stdout: '0\n' })
    expect((await skiff(['logs', id])).stdout).toBe('bye\n')
  })
})
