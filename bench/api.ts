// POST /run?wait=true of `true` in a cached busybox image: p50/p99 over 200
// sequential calls, and sustained jobs/s with concurrency — next to
// `podman run --rm --network none` (and `docker run --rm`, when docker.io is
// installed) of the same rootfs in the same run.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { dockerRunTrueMs, podmanRunTrueMs } from './peers.js'
import { median, percentile, row, type BenchRow } from './types.js'

export async function benchApi(opts: { calls?: number; jobs?: number; concurrency?: number } = {}): Promise<BenchRow[]> {
  const calls = opts.calls ?? 200
  const total = opts.jobs ?? 400
  const conc = opts.concurrency ?? 16
  const d = await startDaemon({ maxConcurrent: 16 })
  const rows: BenchRow[] = []
  try {
    await importBusybox(d)
    const runTrue = async () => {
      const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })
      if (r.json?.exitCode !== 0) throw new Error(`run failed: ${r.text}`)
    }
    for (let i = 0; i < 10; i++) await runTrue()
    const lat: number[] = []
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now()
      await runTrue()
      lat.push(performance.now() - t0)
    }
    // sustained throughput: median of 3 rounds (one round is at the mercy of a
    // neighbour's burst on this shared 2-core VM)
    const rounds: number[] = []
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now()
      let next = 0
      await Promise.all(Array.from({ length: conc }, async () => { while (next++ < total) await runTrue() }))
      rounds.push(total / ((performance.now() - t0) / 1000))
    }
    const jobsPerSec = median(rounds)

    // peer: podman run --rm of the same rootfs
    const tar = join(d.dataDir, 'busybox-rootfs.tar')
    execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), tar])
    const podmanMs = process.env.SKIFF_BENCH_PODMAN === '0' ? null : podmanRunTrueMs(tar, 20)
    const podmanJps = podmanMs ? 1000 / podmanMs : null
    // docker when Debian's docker.io is installed (SKIFF_BENCH_PEERS=1 scripts/setup-host): a private dockerd
    const dk = process.env.SKIFF_BENCH_DOCKER === '0' ? { ms: null, why: 'SKIFF_BENCH_DOCKER=0' } : dockerRunTrueMs(tar, 20)
    const dockerNote = dk.ms ? `docker run --rm ${dk.ms.toFixed(1)} ms (ratio ${(median(lat) / dk.ms).toFixed(3)})` : `docker: ${dk.why}`
    rows.push(row(`POST /run?wait=true p50 (n=${calls})`, median(lat), 'podman run --rm (median)', podmanMs, `target ≤ 15 ms; ${dockerNote}`))
    rows.push(row(`POST /run?wait=true p99 (n=${calls})`, percentile(lat, 99), 'podman run --rm (median)', podmanMs))
    if (dk.ms) rows.push(row(`POST /run?wait=true p50 (n=${calls})`, median(lat), 'docker run --rm (median)', dk.ms))
    const dockerJps = dk.ms ? ` vs docker ${(1000 / dk.ms).toFixed(1)} jobs/s` : ''
    rows.push({ ...row(`jobs/s, ${conc} clients, ${total} jobs (median of 3)`, 1000 / jobsPerSec, 'podman run --rm, sequential', podmanJps ? 1000 / podmanJps : null, `skiff ${jobsPerSec.toFixed(0)} jobs/s (rounds ${rounds.map((r) => r.toFixed(0)).join('/')}) vs podman ${podmanJps?.toFixed(1) ?? 'n/a'} jobs/s${dockerJps}; target ≥ 100 jobs/s; ms = per-job`) })
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }
  return rows
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchApi()
  console.table(rows)
}
