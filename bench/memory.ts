// The daemon's resident memory after 1000 jobs, as users run it (bin/skiff.js on
// the bundle), next to dockerd + containerd's after the same 1000 `docker run --rm`
// of the same rootfs. Target ≤ 60 MiB. Read twice: right after the last job, and
// once the daemon has gone quiet and given memory back (lib/idle-reclaim.ts; waited
// for on skiff_memory_reclaims_total, not slept). Also printed: private memory
// (what the process costs beyond the node binary's pages it shares with other
// processes), and the floor: the same 1000 POST /run to the smallest server this
// stack makes (bench/memory-floor.mjs: hono + better-sqlite3 + ws, no containers).
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { DAEMON_NODE_FLAGS } from '../src/cli/commands/daemon.js'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { docker } from './peers.js'
import type { BenchRow } from './types.js'

const MiB = 1024 * 1024

/** Rss and private (Private_Clean + Private_Dirty) bytes of a pid, from smaps_rollup. */
export function memoryOf(pid: number): { rss: number; private: number } {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0) * 1024
  return { rss: kb('Rss'), private: kb('Private_Clean') + kb('Private_Dirty') }
}

async function pool(n: number, conc: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await one(next++) }))
}

const until = async (what: string, ok: () => Promise<boolean> | boolean, ms = 20_000) => {
  const t0 = Date.now()
  while (!(await ok())) {
    if (Date.now() - t0 > ms) throw new Error(`memory bench: ${what} did not happen within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The floor server's RSS after `jobs` POST /run (8 at a time), and after its reclaim. */
async function floorMemory(jobs: number): Promise<{ after: number; idle: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-mem-floor-'))
  const socket = join(dir, 'api.sock')
  const c = spawn(process.execPath, [...DAEMON_NODE_FLAGS, join(PACKAGE_ROOT, 'bench/memory-floor.mjs'), socket, join(dir, 'state.db')], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  c.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  const agent = new Agent({ connect: { socketPath: socket } })
  try {
    await until('floor server ready', () => out.includes('ready'))
    await pool(jobs, 8, async () => {
      const r = await request('http://localhost/run', { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'busybox', cmd: ['true'] }) })
      if ((await r.body.json() as { exitCode?: number }).exitCode !== 0) throw new Error('floor run failed')
    })
    const after = memoryOf(c.pid!).rss
    c.kill('SIGUSR2')
    await until('floor reclaim', () => out.includes('reclaimed'))
    return { after, idle: memoryOf(c.pid!).rss }
  } finally {
    await agent.close()
    c.kill('SIGTERM')
    if (c.exitCode === null) await new Promise((r) => c.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchMemory(opts: { jobs?: number } = {}): Promise<BenchRow[]> {
  const jobs = opts.jobs ?? Number(process.env.SKIFF_BENCH_MEM_JOBS ?? 1000)
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/build-cli.mjs')], { stdio: 'inherit' })
  const d = await startDaemon({ bundle: true, maxConcurrent: 16 })
  let skiff: { rss: number; private: number; start: number; idle: number; idlePrivate: number; heapUsed: number; heapTotal: number }
  try {
    await importBusybox(d)
    const start = memoryOf(d.child.pid!).rss
    await pool(jobs, 8, async () => {
      const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })
      if (r.json?.exitCode !== 0) throw new Error(`run failed: ${r.text}`)
    })
    const after = memoryOf(d.child.pid!)
    const reclaims = async () => Number(/^skiff_memory_reclaims_total (\d+)/m.exec((await d.api('GET', '/metrics')).text)?.[1] ?? 0)
    const before = await reclaims()
    await until('the daemon\'s idle reclaim', async () => (await reclaims()) > before)
    const idle = memoryOf(d.child.pid!)
    const m = (await d.api('GET', '/metrics')).text
    const gauge = (name: string) => Number(new RegExp(`^skiff_process_${name} (\\d+)`, 'm').exec(m)?.[1] ?? NaN)
    skiff = { ...after, start, idle: idle.rss, idlePrivate: idle.private, heapUsed: gauge('nodejs_heap_size_used_bytes'), heapTotal: gauge('nodejs_heap_size_total_bytes') }
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }
  const floor = await floorMemory(jobs)

  let peer: { rss: number; private: number } | null = null
  let why = ''
  const dk = process.env.SKIFF_BENCH_DOCKER === '0' ? undefined : docker()
  try {
    if (dk?.available) {
      const tar = join(d.dataDir + '-peer.tar')
      execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), tar])
      const imp = dk.run(['import', tar, 'skiff-bench/busybox:latest'])
      if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`)
      await pool(jobs, 4, () => new Promise<void>((resolve, reject) => {
        const c = spawn('docker', ['run', '--rm', '--network', 'none', 'skiff-bench/busybox:latest', 'true'], { env: dk.env, stdio: 'ignore' })
        c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker run exited ${code}`))))
      }))
      const ms = dk.pids.map(memoryOf)
      peer = { rss: ms.reduce((a, m) => a + m.rss, 0), private: ms.reduce((a, m) => a + m.private, 0) }
      execFileSync('rm', ['-f', tar])
    } else why = dk?.why ?? 'SKIFF_BENCH_DOCKER=0'
  } finally {
    dk?.cleanup()
  }
  const r = (x: number) => Math.round((x / MiB) * 10) / 10
  const ratio = (a: number, b: number | undefined) => (b ? Math.round((a / b) * 1000) / 1000 : null)
  return [
    { name: `daemon RSS right after ${jobs} jobs`, skiff_ms: r(skiff.rss), peer: 'dockerd+containerd RSS', peer_ms: peer ? r(peer.rss) : null, ratio: ratio(skiff.rss, peer?.rss), unit: 'MiB', note: `${r(skiff.start)} MiB after start and the image import${peer ? '' : `; docker: ${why}`}` },
    { name: `daemon RSS after ${jobs} jobs, idle`, skiff_ms: r(skiff.idle), peer: 'dockerd+containerd RSS', peer_ms: peer ? r(peer.rss) : null, ratio: ratio(skiff.idle, peer?.rss), unit: 'MiB', note: `target ≤ 60 MiB; after the daemon's idle reclaim (full GC + malloc_trim); V8 heap ${r(skiff.heapUsed)} used of ${r(skiff.heapTotal)} MiB` },
    { name: `daemon RSS after ${jobs} jobs, idle`, skiff_ms: r(skiff.idle), peer: 'floor: hono+better-sqlite3 server, idle', peer_ms: r(floor.idle), ratio: ratio(skiff.idle, floor.idle), unit: 'MiB', note: `bench/memory-floor.mjs, the same ${jobs} POST /run, no containers; ${r(floor.after)} MiB before its reclaim` },
    { name: `daemon private memory after ${jobs} jobs, idle`, skiff_ms: r(skiff.idlePrivate), peer: 'dockerd+containerd private', peer_ms: peer ? r(peer.private) : null, ratio: ratio(skiff.idlePrivate, peer?.private), unit: 'MiB', note: 'RSS less the pages shared with other processes (the node binary\'s)' },
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchMemory())
