// Bridge networking: start → exit known of `true` on a bridge network (netns +
// CNI bridge/host-local/firewall ADD), skiff's runtime path next to
// `podman run --rm --network bridge` (podman's CNI backend, its own default
// network under a temp dir) and `docker run --rm` on docker's default bridge
// network (a private dockerd on its own bridge, iptables off so nothing global
// changes), in the same run. Teardown (CNI DEL) is outside skiff's timing, as in
// the runtime part (the daemon records the exit first); inside podman's and docker's.
// Also through the API: POST /run?wait=true on the default network (the daemon's
// teardown of each job, after its answer, is let finish before the next).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRuntime } from '../src/runtime/index.js'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { removeBridge, testBridge, testSubnet } from '../test/helpers/net.js'
import { docker, msOrWhy, peerRunTrueMs, podman, PODMAN_ULIMITS } from './peers.js'
import { busyboxRootfs, crunBundle } from './fixtures.js'
import { median, row, type BenchRow } from './types.js'

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export async function benchNetwork(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 30
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-net-'))
  const rootfs = busyboxRootfs(dir)
  const tar = join(dir, 'bb.tar') // the same rootfs, for the peers' import
  const net = { ...testSubnet(), bridge: testBridge() }
  const network = { name: 'bench', bridge: net.bridge, subnet: net.subnet, gateway: net.gateway }
  const rows: BenchRow[] = []
  const rt = createRuntime({ root: join(dir, 'rt') })
  try {
    const times: Record<'none' | 'bridge', number[]> = { none: [], bridge: [] }
    for (let i = 0; i < runs + 3; i++) {
      for (const mode of ['none', 'bridge'] as const) {
        const id = `n${mode[0]}${i}`
        const t0 = performance.now()
        const c = await rt.create({
          id, rootfs: { lowerDirs: [rootfs] }, process: { args: ['true'], env: [`PATH=${PATH}`], cwd: '/' }, hostname: id, limits: {},
          network: mode === 'none' ? { mode } : { mode, network, ip: `${net.prefix}.${10 + (i % 200)}`, ports: [], peers: [] },
          mounts: [], logPath: join(dir, `${id}.log`),
        })
        await c.start()
        const e = await c.wait()
        const ms = performance.now() - t0
        if (e.exitCode !== 0) throw new Error(`true exited ${e.exitCode}`)
        if (i >= 3) times[mode].push(ms)
        await c.remove()
      }
    }
    const bridge = median(times.bridge)
    process.stderr.write(`skiff runtime start→exit: none ${median(times.none).toFixed(1)} ms, bridge ${bridge.toFixed(1)} ms\n`)

    const pm = podmanBridgeMs(tar, 15)
    rows.push(row(`network: start→exit known, true on a bridge (median of ${runs})`, bridge, 'podman run --rm --network bridge', pm.ms, pm.ms ? 'target ≤ 0.3× podman' : pm.why))
    const dk = dockerBridgeMs(tar, 15)
    rows.push(row('network: start→exit known, true on a bridge', bridge, 'docker run --rm (default bridge)', dk.ms, dk.ms ? 'dockerd with --iptables=false on a private bridge' : dk.why))
    rows.push(row('network: bridge over none (same run)', bridge, 'skiff runtime, network none', median(times.none), 'the price of a netns + CNI ADD'))

    // the API path: POST /run?wait=true of `true` on the daemon's default network
    const env = testSubnet()
    const dbridge = testBridge()
    const d = await startDaemon({ env: { SKIFF_DEFAULT_BRIDGE: dbridge, SKIFF_DEFAULT_SUBNET: env.subnet } })
    try {
      await importBusybox(d)
      const api: number[] = []
      for (let i = 0; i < runs + 3; i++) {
        const t0 = performance.now()
        const r = await d.api('POST', '/run?wait=true', { image: 'busybox', network: { mode: 'bridge' }, cmd: ['true'] })
        const ms = performance.now() - t0
        if (r.json?.exitCode !== 0) throw new Error(`api run: ${r.text.slice(0, 300)}`)
        if (i >= 3) api.push(ms)
        // the daemon tears the container (CNI DEL) down after it answers: let that finish
        // outside the timing, as podman's `run --rm` does inside its own
        const netns = join(d.dataDir, 'runtime', 'netns')
        for (let k = 0; k < 400 && existsSync(netns) && readdirSync(netns).length; k++) await new Promise((res) => setTimeout(res, 5))
      }
      rows.push(row(`network: POST /run?wait=true of true on a bridge (median of ${runs})`, median(api), 'podman run --rm --network bridge', pm.ms, pm.ms ? 'target ≤ 0.3× podman' : pm.why))
    } finally {
      await d.stop()
      removeDataDir(d.dataDir)
      removeBridge(dbridge)
    }
  } finally {
    rt.close()
    removeBridge(net.bridge)
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

/** podman's own default bridge network (CNI backend, config under its temp dir). */
function podmanBridgeMs(rootfsTar: string, runs: number): { ms: number | null; why?: string } {
  const p = podman()
  if (!p.available) return { ms: null, why: 'podman not installed (SKIFF_BENCH_PEERS=1 scripts/setup-host)' }
  const had = spawnSync('ip', ['link', 'show', 'cni-podman0']).status === 0
  try {
    return msOrWhy(() => peerRunTrueMs({ name: 'podman', run: p.run }, { rootfsTar, runArgs: ['--network', 'bridge', ...PODMAN_ULIMITS], runs }))
  } finally {
    p.cleanup()
    // podman's default network made its bridge: take it away again unless it was there before
    if (!had) removeBridge('cni-podman0')
  }
}

function dockerBridgeMs(rootfsTar: string, runs: number): { ms: number | null; why?: string } {
  const bridge = testBridge()
  const sub = testSubnet()
  execFileSync('ip', ['link', 'add', 'name', bridge, 'type', 'bridge'])
  execFileSync('ip', ['addr', 'add', `${sub.gateway}/24`, 'dev', bridge])
  execFileSync('ip', ['link', 'set', bridge, 'up'])
  const d = docker({ bridge })
  try {
    if (!d.available) return { ms: null, why: d.why }
    // no --network: docker's default bridge network, on the bridge made above
    return msOrWhy(() => peerRunTrueMs({ name: 'docker', run: d.run }, { rootfsTar, runArgs: [], runs }))
  } finally {
    d.cleanup()
    removeBridge(bridge)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchNetwork())
