// The `skiff` command as users run it (bin/skiff.js on the built bundle, against a
// daemon run the same way), next to its floors and peers in the same run:
//   skiff --version, skiff ps            vs node -e ''          target ≤ 1.3x
//   skiff run --rm IMAGE true            vs podman run --rm      target ≤ 0.5x (and docker run --rm)
//   and the floor of any Node CLI that runs a container: `node -e ''` followed by a
//   bare `crun run` of a prepared bundle (no daemon, no overlay, no conmon), next to
//   podman too: when the floor is above 0.5x podman, no Node client can meet the target.
// Each measurement alternates with its peer's, so both see the same machine.
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { busyboxRootfs, crunBundle } from './fixtures.js'
import { docker, podman, PODMAN_ULIMITS, timeSync } from './peers.js'
import { median, row, type BenchRow } from './types.js'

const BIN = join(PACKAGE_ROOT, 'bin/skiff.js')

export async function benchCli(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? Number(process.env.SKIFF_BENCH_CLI_RUNS ?? 30)
  // the bundle users get from `npm run build` (scripts/setup), fresh
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/build-cli.mjs')], { stdio: 'inherit' })
  const d = await startDaemon({ bundle: true, maxConcurrent: 16 })
  const rows: BenchRow[] = []
  try {
    await importBusybox(d)
    const env = { ...process.env, SKIFF_SOCKET: d.socket, SKIFF_HOST: '', SKIFF_FROM_SOURCE: '' }
    const exec = (file: string, args: string[], e: NodeJS.ProcessEnv = env) => () => {
      const r = spawnSync(file, args, { env: e, stdio: ['ignore', 'ignore', 'pipe'] })
      if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`)
    }
    const node = exec(process.execPath, ['-e', ''])
    const version = exec(process.execPath, [BIN, '--version'])
    const ps = exec(process.execPath, [BIN, 'ps'])
    const skiffRun = exec(process.execPath, [BIN, 'run', '--rm', 'busybox', 'true'])

    const t = { node: [] as number[], version: [] as number[], ps: [] as number[] }
    for (let i = 0; i < runs + 3; i++) {
      const n = timeSync(node)
      const v = timeSync(version)
      const p = timeSync(ps)
      if (i >= 3) t.node.push(n), t.version.push(v), t.ps.push(p)
    }
    rows.push(row(`skiff --version (median of ${runs})`, median(t.version), "node -e ''", median(t.node), 'target ≤ 1.3x'))
    rows.push(row(`skiff ps (median of ${runs})`, median(t.ps), "node -e ''", median(t.node), 'target ≤ 1.3x'))

    // skiff run next to podman run --rm and docker run --rm of the same rootfs
    const tar = join(d.dataDir, 'busybox-rootfs.tar')
    const pm = process.env.SKIFF_BENCH_PODMAN === '0' ? undefined : podman()
    const dk = process.env.SKIFF_BENCH_DOCKER === '0' ? undefined : docker()
    try {
      const peers: { name: string; once: () => void; ms: number[] }[] = []
      if (pm?.available) {
        const imp = pm.run(['import', tar, 'localhost/busybox:latest'])
        if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`)
        peers.push({ name: 'podman run --rm --network none', ms: [], once: () => {
          const r = pm.run(['run', '--rm', '--network', 'none', ...PODMAN_ULIMITS, 'localhost/busybox:latest', 'true'])
          if (r.status !== 0) throw new Error(r.stderr)
        } })
      }
      if (dk?.available) {
        const imp = dk.run(['import', tar, 'skiff-bench/busybox:latest'])
        if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`)
        peers.push({ name: 'docker run --rm --network none', ms: [], once: exec('docker', ['run', '--rm', '--network', 'none', 'skiff-bench/busybox:latest', 'true'], dk.env) })
      }
      const fdir = join(d.dataDir, 'floor')
      const bundle = crunBundle(fdir, busyboxRootfs((execFileSync('mkdir', ['-p', fdir]), fdir)), ['true'])
      let n = 0
      const crunRun = () => {
        const r = spawnSync('crun', ['--root', join(fdir, 'crun-state'), 'run', '--bundle', bundle, `floor${n++}`], { stdio: 'ignore' })
        if (r.status !== 0) throw new Error('crun run failed')
      }
      const floor: number[] = []
      const mine: number[] = []
      for (let i = 0; i < runs + 3; i++) {
        const s = timeSync(skiffRun)
        const f = timeSync(() => (node(), crunRun()))
        const ps = peers.map((p) => timeSync(p.once))
        if (i < 3) continue
        mine.push(s)
        floor.push(f)
        peers.forEach((p, k) => p.ms.push(ps[k]!))
      }
      if (!peers.length) rows.push(row(`skiff run --rm busybox true (median of ${runs})`, median(mine), 'podman run --rm', null, `no peer here: ${dk?.why ?? 'podman/docker not installed'} (SKIFF_BENCH_PEERS=1 scripts/setup-host)`))
      for (const p of peers) rows.push(row(`skiff run --rm busybox true (median of ${runs})`, median(mine), p.name, median(p.ms), p.name.startsWith('podman') ? 'target ≤ 0.5x' : undefined))
      const pmRow = peers.find((p) => p.name.startsWith('podman'))
      rows.push(row(`floor: node -e '' + bare crun run true (median of ${runs})`, median(floor), pmRow?.name ?? 'podman run --rm', pmRow ? median(pmRow.ms) : null, 'the least any Node CLI that runs a container takes; above 0.5x, the run target is out of reach'))
    } finally {
      pm?.cleanup()
      dk?.cleanup()
    }
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }
  return rows
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchCli())
