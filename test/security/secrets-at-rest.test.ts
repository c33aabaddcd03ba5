import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Agent, request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'
import { freePort, importBusybox, removeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js'

// A machine set up the README's way (scripts/setup → scripts/start-daemon), then
// a local non-root user (nobody, through util-linux's setpriv) looks around:
// neither the token, nor a job's env, nor any log may be readable by them.
const run = promisify(execFile)
const asNobody = (script: string) =>
  run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sh', '-c', script], { cwd: '/' }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  )
const mode = (p: string) => statSync(p).mode & 0o7777
const roots: string[] = []
afterAll(() => {
  for (const r of roots) removeDataDir(r)
})

/** A parent dir everyone may traverse: the data dir's own mode has to do the job. */
function openBase(): string {
  const base = mkdtempSync(join(tmpdir(), 'skiff-sec-'))
  chmodSync(base, 0o755)
  roots.push(base)
  return base
}

function api(socket: string) {
  const agent = new Agent({ connect: { socketPath: socket } })
  return {
    async call(method: string, path: string, body?: unknown) {
      const r = await request(`http://localhost${path}`, { method: method as 'GET', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
      const text = await r.body.text()
      return { status: r.statusCode, json: text ? JSON.parse(text) : undefined }
    },
    raw: (method: string, path: string, o: { body?: any; headers?: Record<string, string> } = {}) => request(`http://localhost${path}`, { method: method as 'POST', dispatcher: agent, ...o }),
    close: () => agent.close(),
  }
}

describe('secrets at rest on a machine set up by scripts/setup', () => {
  it('a local non-root user reads neither the token, nor a job env, nor any log; the daemon log holds no token', async () => {
    const base = openBase()
    const dataDir = join(base, 'lib/skiff')
    const socket = join(base, 'run/skiff.sock')
    const logFile = join(base, 'log/skiff.log')
    const pidFile = join(base, 'run/daemon.pid')
    const port = await freePort()
    const env = { ...process.env, SKIFF_DATA_DIR: dataDir, SKIFF_SOCKET: socket, SKIFF_DAEMON_LOG: logFile, SKIFF_PIDFILE: pidFile, SKIFF_LISTEN: `127.0.0.1:${port}`, SKIFF_LOG_LEVEL: 'info', SKIFF_FROM_SOURCE: '1' }
    execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/start-daemon')], { env, stdio: 'ignore' })
    const pid = Number(readFileSync(pidFile, 'utf8'))
    const c = api(socket)
    const secret = `hunter2-${process.hrtime.bigint()}`
    try {
      await importBusybox({ dataDir, raw: c.raw } as unknown as TestDaemon)
      // one finished job that printed its secret (its log holds it), one still running (its bundle holds it)
      const done = await c.call('POST', '/run?wait=true', { image: 'busybox', env: { API_KEY: secret }, cmd: ['sh', '-c', 'echo "key=$API_KEY"'] })
      expect(done.json).toMatchObject({ state: 'exited', stdout: `key=${secret}\n` })
      const live = await c.call('POST', '/run', { image: 'busybox', env: { API_KEY: secret }, cmd: ['sleep', '60'] })
      for (let i = 0; i < 300 && (await c.call('GET', `/jobs/${live.json.id}`)).json.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 20))
      const token = readFileSync(join(dataDir, 'token'), 'utf8').trim()

      expect(mode(dataDir)).toBe(0o700)
      for (const f of ['token', 'state.db', 'state.db-wal', 'state.db-shm']) expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600])
      expect(mode(logFile)).toBe(0o600)
      const jobLogDir = join(dataDir, 'logs', done.json.id)
      expect(mode(jobLogDir)).toBe(0o700)
      // the daemon's own log says where the token is, never what it is
      const daemonLog = readFileSync(logFile, 'utf8')
      expect(daemonLog).toContain(join(dataDir, 'token'))
      expect(daemonLog).not.toContain(token)

      // as nobody: name every file; none may give up the secret or the token
      const direct = await asNobody(`cat ${dataDir}/token; cat ${dataDir}/state.db; cat ${logFile}; cat ${jobLogDir}/container.log; ls ${dataDir}`)
      expect(direct.code).not.toBe(0)
      expect(direct.out).not.toContain(token)
      expect(direct.out).not.toContain(secret)
      expect(direct.out.match(/Permission denied/g)?.length).toBe(5)
      const sweep = await asNobody(`grep -r -a -l -e '${secret}' -e '${token}' ${base} /proc/${pid}/environ 2>/dev/null; echo scanned`)
      expect(sweep.out.trim()).toBe('scanned')
      // the root-only sweep finds them (the check above could not pass by looking in the wrong place)
      const asRoot = execFileSync('sh', ['-c', `grep -r -a -l -e '${secret}' ${dataDir} || true`], { encoding: 'utf8' })
      expect(asRoot).toContain('state.db')
      await c.call('POST', `/jobs/${live.json.id}/kill`, { signal: 'SIGKILL' })
      await c.call('POST', `/jobs/${live.json.id}/wait?timeout=20s`)
    } finally {
      await c.close()
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        /* gone */
      }
      for (let i = 0; i < 200 && existsSync(`/proc/${pid}`) && !/ Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 50))
    }
  }, 120_000)

  it('a data dir found too open is repaired at start with a warning; skiff doctor reports it before and is clean after', async () => {
    const base = openBase()
    const dataDir = join(base, 'data')
    const d = await startDaemon({ dataDir })
    await d.stop()
    // an older skiff, or a careless chmod: everything world-readable
    chmodSync(dataDir, 0o755)
    for (const f of ['token', 'state.db']) chmodSync(join(dataDir, f), 0o644)
    chmodSync(join(dataDir, 'logs'), 0o755)
    mkdirSync(join(dataDir, 'logs', 'OLDJOB'), { mode: 0o755 })
    writeFileSync(join(dataDir, 'logs', 'OLDJOB', 'container.log'), 'x', { mode: 0o644 })
    chmodSync(join(dataDir, 'logs', 'OLDJOB'), 0o755)
    chmodSync(join(dataDir, 'logs', 'OLDJOB', 'container.log'), 0o644)

    const doctor = (): { check: string; ok: boolean }[] =>
      JSON.parse(spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin/skiff.js'), 'doctor', '--json', '--data-dir', dataDir], { env: { ...process.env, SKIFF_FROM_SOURCE: '1' }, encoding: 'utf8' }).stdout)
    const failing = (f: { check: string; ok: boolean }[]) => f.filter((x) => x.check.startsWith('mode ') && !x.ok).map((x) => x.check.slice(5)).sort()
    expect(failing(doctor())).toEqual([dataDir, join(dataDir, 'logs'), join(dataDir, 'state.db'), join(dataDir, 'token')].sort())

    // the daemon's log: a 0644 file it is started with (as `>> /var/log/skiff.log` would make it)
    const logFile = join(base, 'daemon.log')
    writeFileSync(logFile, '')
    chmodSync(logFile, 0o644)
    const fd = openSync(logFile, 'a')
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/cli/main.ts'), 'daemon', '--data-dir', dataDir, '--socket', join(dataDir, 'api.sock'), '--listen', `127.0.0.1:${port}`, '--log-level', 'info'], { stdio: ['ignore', fd, fd], cwd: PACKAGE_ROOT })
    closeSync(fd)
    try {
      for (let i = 0; i < 600 && !readFileSync(logFile, 'utf8').includes('skiff daemon ready'); i++) await new Promise((r) => setTimeout(r, 50))
      const log = readFileSync(logFile, 'utf8')
      expect(log).toContain('skiff daemon ready')
      expect(log).toContain('daemon log file was readable by others: repaired')
      expect(log.match(/readable by others: repaired/g)!.length).toBeGreaterThanOrEqual(7)
      expect(mode(logFile)).toBe(0o600)
      expect(mode(dataDir)).toBe(0o700)
      for (const f of ['token', 'state.db', 'logs/OLDJOB/container.log']) expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600])
      for (const f of ['logs', 'logs/OLDJOB']) expect([f, mode(join(dataDir, f))]).toEqual([f, 0o700])
      const after = doctor()
      expect(failing(after)).toEqual([])
      // doctor found the running daemon's log through the lock file
      expect(after.find((x) => x.check === `mode ${logFile}`)).toMatchObject({ ok: true })
    } finally {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    expect(readdirSync(dataDir)).toContain('skiff.lock')
  }, 120_000)
})
