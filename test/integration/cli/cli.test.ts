import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { waitFor } from '../../helpers/wait.js'

// The `skiff` CLI as users run it, against a real daemon over its unix socket.
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const skiff = (args: string[], opts: Parameters<typeof runSkiff>[2] = {}) => runSkiff(d, args, opts)

describe('skiff CLI', () => {
  it('run in the foreground streams stdout and stderr apart and exits with the job\'s code', async () => {
    const r = await skiff(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 5'])
    expect(r).toMatchObject({ code: 5, stdout: 'out\n' })
    expect(r.stderr).toContain('err\n')
  })

  it('run -i streams our stdin into the job and its output back, then exits with its code', async () => {
    const r = await skiff(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'while read -r l; do echo "got $l"; done; echo done >&2; exit 3'], { input: 'a\nb\n' })
    expect(r).toMatchObject({ code: 3, stdout: 'got a\ngot b\n' })
    expect(r.stderr).toContain('done\n')
  })

  it('attach to a job started with run -d -i: input in, output out, exit code back', async () => {
    const id = (await skiff(['run', '-d', '-i', 'busybox', 'sh', '-c', 'echo ready; while read -r l; do echo "got $l"; done; exit 7'])).stdout.trim()
    await waitFor('the job running', async () => (await d.api('GET', `/jobs/${id}`)).json.state === 'running')
    const r = await skiff(['attach', '--logs', id], { input: 'x\ny\n' })
    expect(r).toMatchObject({ code: 7, stdout: 'ready\ngot x\ngot y\n' })
    // a job without -i: attach follows its output from now on and returns its exit code. The
    // job prints "late" from /tmp/go on until /tmp/stop: however long the CLI takes to attach,
    // it sees some of them, and never the "early" written before it came.
    const plain = (await skiff(['run', '-d', 'busybox', 'sh', '-c', 'echo early; while [ ! -f /tmp/go ]; do usleep 20000; done; while [ ! -f /tmp/stop ]; do echo late; usleep 20000; done; exit 2'])).stdout.trim()
    await waitFor('the early line', async () => (await d.api('GET', `/jobs/${plain}/logs`)).text === 'early\n')
    let sawLate!: () => void
    const late = new Promise<void>((r) => (sawLate = r))
    const attached = skiff(['attach', plain], { onStdout: (out) => out.includes('late\n') && sawLate() })
    await d.api('POST', `/jobs/${plain}/exec`, { cmd: ['touch', '/tmp/go'] })
    await late
    await d.api('POST', `/jobs/${plain}/exec`, { cmd: ['touch', '/tmp/stop'] })
    const a = await attached
    expect(a.code).toBe(2)
    expect(a.stdout).toMatch(/^(late\n)+$/)
  })

  it('run -d, ps, logs, inspect, exec, kill, wait, rm', async () => {
    const id = (await skiff(['run', '-d', '--name', 'cli-svc', '-e', 'GREETING=hey', 'busybox', 'sh', '-c', 'echo $GREETING; sleep 30'])).stdout.trim()
    expect(id).toMatch(/^[0-9A-Z]{26}$/)
    await waitFor('the job\'s first line', async () => (await d.api('GET', `/jobs/${id}/logs`)).text === 'hey\n')
    expect((await skiff(['ps'])).stdout).toMatch(/cli-svc/)
    expect((await skiff(['logs', 'cli-svc'])).stdout).toBe('hey\n')
    const ex = await skiff(['exec', 'cli-svc', 'hostname'])
    expect(ex.code).toBe(0)
    expect(ex.stdout.trim()).toBe(id.slice(-12).toLowerCase())
    const insp = JSON.parse((await skiff(['inspect', 'cli-svc'])).stdout)
    expect(insp).toMatchObject({ id, name: 'cli-svc', state: 'running' })
    expect((await skiff(['rm', 'cli-svc'])).code).toBe(125) // refused: still running
    expect((await skiff(['kill', 'cli-svc'])).code).toBe(0)
    const w = await skiff(['wait', 'cli-svc'])
    expect(w.stdout.trim()).toBe('137')
    expect((await skiff(['rm', 'cli-svc'])).code).toBe(0)
    expect((await skiff(['ps', '-a', '-q'])).stdout).not.toContain(id)
  })

  it('exec streams: -i our stdin in, output as it comes; -u, -w, -e; 127 for a missing command, the command\'s own code otherwise', async () => {
    const id = (await skiff(['run', '-d', 'busybox', 'sleep', '100000'])).stdout.trim()
    try {
      await waitFor('the job running', async () => (await d.api('GET', `/jobs/${id}`)).json.state === 'running')
      const cat = await skiff(['exec', '-i', id, 'sh', '-c', 'while read -r l; do echo "got $l"; done; echo bye >&2; exit 4'], { input: 'a\nb\n' })
      expect(cat).toMatchObject({ code: 4, stdout: 'got a\ngot b\n' })
      expect(cat.stderr).toBe('bye\n')
      // without -i the command's stdin is empty, not ours
      expect((await skiff(['exec', id, 'cat'], { input: 'not for it\n' })).stdout).toBe('')
      const who = await skiff(['exec', '-u', 'nobody', '-w', '/tmp', '-e', 'X=1', id, 'sh', '-c', 'echo "$(id -u) $PWD $X"'])
      expect(who).toMatchObject({ code: 0, stdout: '65534 /tmp 1\n' })
      const missing = await skiff(['exec', id, 'nosuch-command'])
      expect(missing.code).toBe(127)
      expect(missing.stderr).toMatch(/^skiff: cmd: executable "nosuch-command" not found/)
      const bad = await skiff(['exec', '-u', 'nosuchuser', id, 'id'])
      expect(bad.code).toBe(125)
      expect(bad.stderr.trim().split('\n')).toHaveLength(1)
      // output streams: the first line is out while the command still waits for its second
      let sawFirst!: () => void
      const first = new Promise<void>((r) => (sawFirst = r))
      const streaming = skiff(['exec', id, 'sh', '-c', 'echo first; while [ ! -e /tmp/second ]; do usleep 20000; done; echo second'], { onStdout: (o) => o.includes('first\n') && sawFirst() })
      await first
      await d.api('POST', `/jobs/${id}/exec`, { cmd: ['touch', '/tmp/second'] })
      expect(await streaming).toMatchObject({ code: 0, stdout: 'first\nsecond\n' })
    } finally {
      await d.api('POST', `/jobs/${id}/kill`)
    }
  })

  it('names a bad flag value by its flag and a missing daemon clearly, exiting 125 like docker', async () => {
    const r = await skiff(['run', '-m', 'lots', 'busybox', 'true'])
    expect(r.code).toBe(125)
    expect(r.stderr).toMatch(/^skiff: -m\/--memory: /)
    expect(r.stderr).not.toMatch(/limits\.memory/)
    const gone = await skiff(['ps'], { env: { SKIFF_SOCKET: join(d.dataDir, 'nope.sock') } })
    expect(gone.code).toBe(125)
    expect(gone.stderr).toMatch(/^skiff: cannot reach the skiff daemon at unix:\/\/.*nope\.sock: ENOENT/)
    expect(gone.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('save, rmi, load and import round-trip an image', async () => {
    const tar = join(d.dataDir, 'saved.tar')
    const sv = await skiff(['save', '-o', tar, 'busybox'])
    expect(sv.code, sv.stderr).toBe(0)
    expect(statSync(tar).size).toBeGreaterThan(100_000)
    expect((await skiff(['rmi', 'busybox'])).code).toBe(0)
    expect((await skiff(['images', '-q'])).stdout.trim()).toBe('')
    const l = await skiff(['load', '-i', tar])
    expect(l.code, l.stderr).toBe(0)
    expect(l.stdout).toContain('busybox')
    expect((await skiff(['run', '--rm', 'busybox', 'echo', 'back'])).stdout).toBe('back\n')
    expect(existsSync(tar)).toBe(true)
  })

  it('doctor reports this host\'s checks', async () => {
    const r = await skiff(['doctor', '--json'])
    const findings = JSON.parse(r.stdout) as { check: string; ok: boolean }[]
    expect(findings.find((f) => f.check === 'crun')).toMatchObject({ ok: true })
    expect(findings.find((f) => f.check === 'overlayfs')).toMatchObject({ ok: true })
  })
})

describe('skiff daemon', () => {
  it('runs itself with the daemon\'s V8 flags (re-exec in place: same pid, still answering)', async () => {
    const argv = readFileSync(`/proc/${d.child.pid}/cmdline`, 'utf8').split('\0')
    expect(argv).toContain('--max-semi-space-size=1')
    expect((await d.api('GET', '/healthz')).status).toBe(200)
  })

  it('exits non-zero, at once, when told to listen on a public address without the opt-in', async () => {
    const r = await skiff(['daemon', '--data-dir', join(d.dataDir, 'public'), '--socket', join(d.dataDir, 'public.sock'), '--listen', '0.0.0.0:1'])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/not a loopback address/)
    expect(existsSync(join(d.dataDir, 'public.sock'))).toBe(false)
  })
})

describe('skiff run -i', () => {
  // (the deterministic case, an attach after the job ended, is in test/integration/http/attach.test.ts)
  it('is race-free for a job that ends before reading its stdin', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => skiff(['run', '-i', 'busybox', 'echo', 'quick'], { input: 'hi\n' })))
    for (const r of runs) expect(r).toEqual({ code: 0, stdout: 'quick\n', stderr: '' })
  }, 120_000)
})
