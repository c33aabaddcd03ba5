import { afterAll, beforeAll } from 'vitest'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, createReadStream } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'

export interface TestDaemon {
  dataDir: string
  socket: string
  port: number
  token: string
  child: ChildProcess
  /** JSON over the unix socket. */
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: T; text: string }>
  /** Raw request over the unix socket. */
  raw(method: string, path: string, opts?: { body?: any; headers?: Record<string, string> }): ReturnType<typeof request>
  kill9(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number }
      s.close(() => resolve(a.port))
    })
    s.on('error', reject)
  })
}

/** A real skiff daemon in its own process, on a temp data dir, unix socket and loopback port. */
export async function startDaemon(opts: { maxConcurrent?: number; runtime?: string; env?: Record<string, string>; dataDir?: string; bundle?: boolean } = {}): Promise<TestDaemon> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'skiff-d-'))
  const socket = join(dataDir, 'api.sock')
  const port = await freePort()
  // idle sockets closed well before the daemon's 5 s keep-alive: a request never goes out on one the daemon is closing
  const newAgent = () => new Agent({ connect: { socketPath: socket }, keepAliveTimeout: 1000 })
  let agent = newAgent()
  // One process (node + the tsx loader), not the tsx CLI: its wrapper process would
  // take the SIGKILL of kill9() and leave the real daemon running as an orphan.
  // SKIFF_DAEMON_NODE_ARGS: e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the daemon under a test or bench
  // bundle: the built dist/cli as users run it (bin/skiff.js; the bench's memory row), else the sources.
  const entry = opts.bundle ? [join(PACKAGE_ROOT, 'bin/skiff.js')] : ['--import', 'tsx', join(PACKAGE_ROOT, 'src/cli/main.ts')]
  const args = [...(process.env.SKIFF_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...entry, 'daemon', '--data-dir', dataDir, '--socket', socket, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn']
  if (opts.maxConcurrent) args.push('--max-concurrent', String(opts.maxConcurrent))
  if (opts.runtime) args.push('--runtime', opts.runtime)
  let child!: ChildProcess
  const launch = async () => {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...(opts.bundle ? { SKIFF_FROM_SOURCE: '' } : {}), ...opts.env }, cwd: PACKAGE_ROOT })
    const t0 = Date.now()
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited with ${child.exitCode ?? child.signalCode}`)
      if (existsSync(socket)) {
        try {
          const r = await request('http://localhost/healthz', { dispatcher: agent })
          await r.body.text()
          if (r.statusCode === 200) break
        } catch {
          /* not yet */
        }
      }
      // A daemon that fails exits (caught above); one that is slow to come up is
      // waited for: from sources under tsx, on a loaded 2-core machine, a start plus
      // the adoption of containers cut mid-create took over 30 s.
      if (Date.now() - t0 > 120_000) throw new Error('daemon did not come up in 120 s')
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await launch()
  const d: TestDaemon = {
    dataDir, socket, port, child,
    token: readFileSync(join(dataDir, 'token'), 'utf8').trim(),
    raw: (method, path, o = {}) => request(`http://localhost${path}`, { method: method as 'GET', dispatcher: agent, body: o.body, headers: o.headers, bodyTimeout: 0, headersTimeout: 0 }),
    async api(method, path, body, headers) {
      const r = await request(`http://localhost${path}`, {
        method: method as 'GET', dispatcher: agent, headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body), bodyTimeout: 0, headersTimeout: 0,
      })
      const text = await r.body.text()
      let json: any
      try { json = JSON.parse(text) } catch { json = undefined }
      return { status: r.statusCode, json, text }
    },
    async kill9() {
      child.kill('SIGKILL')
      await new Promise((r) => child.once('exit', r))
      await agent.close().catch(() => {})
      agent = newAgent()
    },
    async restart() {
      await agent.close().catch(() => {})
      agent = newAgent()
      await launch()
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await new Promise((r) => child.once('exit', r))
        clearTimeout(t)
      }
      await agent.close().catch(() => {})
    },
  }
  return d
}

/** Import a busybox image (from Debian's busybox-static) through the API, as scripts/setup does. */
export async function importBusybox(d: TestDaemon, ref = 'busybox:latest'): Promise<string> {
  const tar = join(d.dataDir, 'busybox-rootfs.tar')
  if (!existsSync(tar)) execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), tar])
  const post = () => d.raw('POST', `/images/import?ref=${encodeURIComponent(ref)}`, { body: createReadStream(tar), headers: { 'content-type': 'application/x-tar' } })
  // An import is idempotent (same ref, same bytes), so one reset is retried: a kept-alive
  // socket the daemon closed (after answering an earlier upload before reading all of it,
  // as a 507 does) can be picked for the next one before its close is seen.
  const r = await post().catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ECONNRESET' && !/other side closed/.test(e.message)) throw e
    return post()
  })
  const j = (await r.body.json()) as { id: string }
  if (r.statusCode !== 201) throw new Error(`import failed: ${JSON.stringify(j)}`)
  return j.id
}

/** Remove a daemon's data dir, unmounting anything left under it first. */
export function removeDataDir(dir: string): void {
  killContainers(dir)
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => !!m && m.startsWith(dir + '/'))
  for (const m of mounts.sort().reverse()) {
    try { execFileSync('umount', [m]) } catch { execFileSync('umount', ['-l', m]) }
  }
  rmSync(dir, { recursive: true, force: true })
}

/** Containers outlive their daemon (live-restore): a test that stops its daemon
 *  with jobs still running, or kills it -9, leaves them to us. Kill every
 *  monitor and container of the data dir, and let the runtime delete their
 *  state and cgroups — before the dir (their state) is removed. */
export function killContainers(dir: string): void {
  const containers = join(dir, 'runtime', 'containers')
  const state = join(dir, 'runtime', 'state')
  let ids: string[] = []
  try {
    ids = readdirSync(containers)
  } catch {
    return
  }
  for (const id of ids) {
    for (const f of ['container.pid', 'conmon.pid']) {
      try {
        const pid = Number(readFileSync(join(containers, id, f), 'utf8'))
        if (pid > 1) process.kill(pid, 'SIGKILL')
      } catch {
        /* gone, or never started */
      }
    }
    for (const runtime of ['crun', 'runc']) {
      try {
        execFileSync(runtime, ['--root', state, 'delete', '--force', id], { stdio: 'ignore' })
        break
      } catch {
        /* not this runtime's, or already cleaned */
      }
    }
  }
}

/** A daemon with the busybox image for the tests of one file: started before
 *  them, stopped and removed after. Read it through the returned getter. */
export function useBusyboxDaemon(opts: Parameters<typeof startDaemon>[0] = {}): () => TestDaemon {
  let d: TestDaemon | undefined
  beforeAll(async () => {
    d = await startDaemon(opts)
    await importBusybox(d)
  }, 120_000)
  afterAll(async () => {
    await d?.stop()
    if (d) removeDataDir(d.dataDir)
  })
  return () => d!
}
