import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'

// --init through a real daemon: tini (Debian's static build) bound read-only
// as PID 1 of a real crun container.
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const running = async (id: string) => {
  for (let i = 0; i < 500 && (await d.api('GET', `/jobs/${id}`)).json.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 20))
}

describe('"init": true', () => {
  it('puts an init in front of the command as PID 1, so SIGTERM reaches a plain sleep', async () => {
    const j = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'], init: true })).json
    await running(j.id)
    // the sleep is running as pid 1's child once ps shows it
    let ps = ''
    // (the child's own line, not the init's "/dev/init -- sleep 100000", which shows before tini has forked)
    for (let i = 0; i < 250 && !/^\s*\d+\s+1\s+sleep 100000$/m.test(ps); i++) ps = (await d.api('POST', `/jobs/${j.id}/exec`, { cmd: ['ps', '-o', 'pid,ppid,args'] })).json.stdout
    expect(ps).toMatch(/^\s*1\s+0\s+\/dev\/init -- sleep 100000$/m)
    expect(ps).toMatch(/^\s*\d+\s+1\s+sleep 100000$/m)
    expect((await d.api('POST', `/jobs/${j.id}/kill`, { signal: 'SIGTERM' })).status).toBe(202)
    expect((await d.api('POST', `/jobs/${j.id}/wait?timeout=30s`)).json).toMatchObject({ state: 'killed', exitCode: null, signal: 'SIGTERM' })
  })

  it('keeps the command\'s exit code and output, with stdin data too; the init is bound read-only', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'cat; echo "pid1=$(cat /proc/1/cmdline | tr "\\0" " ")"; exit 5', stdin: 'in\n', init: true })
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 5 })
    expect(r.json.stdout).toMatch(/^in\npid1=\/dev\/init -- /)
    const ro = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'ls -l /dev/init; touch /dev/init 2>&1 || echo read-only', init: true, readonlyRootfs: true })
    expect(ro.json).toMatchObject({ state: 'exited', exitCode: 0 })
    expect(ro.json.stdout).toContain('read-only')
  })

  it('without it, the command is PID 1', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['cat', '/proc/1/cmdline'] })
    expect(r.json.stdout).toBe('cat\0/proc/1/cmdline\0')
  })
})
