// start → exit-code-known for `true` in a prepared busybox rootfs: skiff's runtime
// path (overlay + bundle + conmon + crun, exit seen by inotify) next to bare
// `crun run` of a prepared bundle and `podman run --rm --network none` of the
// same rootfs, in the same run. Teardown is outside skiff's timing (it runs
// after the exit is reported, as in the daemon), inside crun's and podman's.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuntime } from '../src/runtime/index.js'
import { podmanRunTrueMs, timeSync } from './peers.js'
import { busyboxRootfs, crunBundle } from './fixtures.js'
import { median, row, type BenchRow } from './types.js'

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export async function benchRuntime(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 50
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-rt-'))
  const rootfs = busyboxRootfs(dir)
  const tar = join(dir, 'bb.tar') // the same rootfs, for the peers' import
  const rows: BenchRow[] = []
  const rt = createRuntime({ root: join(dir, 'rt') })
  try {
    const skiff: number[] = []
    for (let i = 0; i < runs + 5; i++) {
      const t0 = performance.now()
      const c = await rt.create({ id: `b${i}`, rootfs: { lowerDirs: [rootfs] }, process: { args: ['true'], env: [`PATH=${PATH}`], cwd: '/' }, hostname: `b${i}`, limits: {}, network: { mode: 'none' }, mounts: [], logPath: join(dir, `b${i}.log`) })
      await c.start()
      const e = await c.wait()
      const ms = performance.now() - t0
      if (e.exitCode !== 0) throw new Error(`true exited ${e.exitCode}`)
      if (i >= 5) skiff.push(ms)
      await c.remove()
    }

    // bare crun: a bundle prepared once (crun's default spec on the same rootfs)
    const bundle = crunBundle(dir, rootfs, ['true'])
    const crun: number[] = []
    for (let i = 0; i < runs + 5; i++) {
      const ms = timeSync(() => {
        const r = spawnSync('crun', ['--root', join(dir, 'crun-state'), 'run', '--bundle', bundle, `c${i}`], { stdio: 'ignore' })
        if (r.status !== 0) throw new Error('crun run failed')
      })
      if (i >= 5) crun.push(ms)
    }
    rows.push(row(`runtime: start→exit known, true (median of ${runs})`, median(skiff), 'crun run (bare, prepared)', median(crun), 'target ≤ 2.5× bare crun'))

    const podmanMs = podmanRunTrueMs(tar, 15)
    if (podmanMs !== null) rows.push(row('runtime: start→exit known, true', median(skiff), 'podman run --rm --network none', podmanMs, 'target > 10× faster than podman'))
  } finally {
    rt.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchRuntime())
