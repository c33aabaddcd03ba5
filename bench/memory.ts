// The daemon's resident memory after 1000 jobs, as users run it (bin/skiff.js on
// the bundle), next to dockerd + containerd's after the same 1000 `docker run --rm`
// of the same rootfs. Target ≤ 60 MiB. Also printed: private memory (what the
// process costs beyond the node binary's pages it shares with other processes).
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
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

export async function benchMemory(opts: { jobs?: number } = {}): Promise<BenchRow[]> {
  const jobs = opts.jobs ?? Number(process.env.SKIFF_BENCH_MEM_JOBS ?? 1000)
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/build-cli.mjs')], { stdio: 'inherit' })
  const d = await startDaemon({ bundle: true, maxConcurrent: 16 })
  let skiff: { rss: number; private: number; start: number }
  try {
    await importBusybox(d)
    const start = memoryOf(d.child.pid!).rss
    await pool(jobs, 8, async () => {
      const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })
      if (r.json?.exitCode !== 0) throw new Error(`run failed: ${r.text}`)
    })
    skiff = { ...memoryOf(d.child.pid!), start }
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }

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
    { name: `daemon RSS after ${jobs} jobs`, skiff_ms: r(skiff.rss), peer: 'dockerd+containerd RSS', peer_ms: peer ? r(peer.rss) : null, ratio: ratio(skiff.rss, peer?.rss), unit: 'MiB', note: `target ≤ 60 MiB; ${r(skiff.start)} MiB after start${peer ? '' : `; docker: ${why}`}` },
    { name: `daemon private memory after ${jobs} jobs`, skiff_ms: r(skiff.private), peer: 'dockerd+containerd private', peer_ms: peer ? r(peer.private) : null, ratio: ratio(skiff.private, peer?.private), unit: 'MiB', note: 'RSS less the pages shared with other processes (the node binary\'s)' },
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchMemory())
