// A service's crash → its next attempt running: skiff with restart "always"
// and backoff initial 0, next to `docker run --restart always` and
// `podman run --restart always` of the same rootfs in the same run.
//
// The workload is `sleep 0.3; exit 1`, so every restart is a real crash of a
// process that ran. The gap is measured from each runtime's own records: the
// previous run's exit time to the next run's start time (skiff: attempt n's
// start + its wall time → attempt n+1's start; docker/podman: State.FinishedAt
// → State.StartedAt of `inspect`, read while the next run is up). docker's
// restart delay is fixed (100 ms, doubling; moby#41856): it pays that on top,
// and the row says so; podman restarts from its cleanup process, without delay.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { docker, podman, PODMAN_ULIMITS } from './peers.js'
import { median, row, type BenchRow } from './types.js'

const CMD = 'sleep 0.3; exit 1'
const SAMPLES = 10

export async function benchRestart(): Promise<BenchRow[]> {
  const d = await startDaemon({ maxConcurrent: 4 })
  let tar = ''
  const gaps: number[] = []
  try {
    await importBusybox(d)
    tar = join(d.dataDir, 'busybox-rootfs.tar')
    execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), tar])
    const id = (await d.api('POST', '/run', { image: 'busybox', cmd: CMD, restart: 'always', backoff: { initial: 0 } })).json.id as string
    for (;;) {
      const j = (await d.api('GET', `/jobs/${id}`)).json
      if (j.restartCount >= SAMPLES + 1) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await d.api('POST', `/jobs/${id}/stop`, { timeout: 0 })
    const as = (await d.api('GET', `/jobs/${id}/attempts`)).json.items as { startedAt: string; usage: { wallMs: number } | null }[]
    for (let i = 1; i < as.length && gaps.length < SAMPLES; i++) {
      const prev = as[i - 1]!
      const next = as[i]!
      if (!prev.usage || !next.startedAt || !prev.startedAt) continue
      gaps.push(Date.parse(next.startedAt) - (Date.parse(prev.startedAt) + prev.usage.wallMs))
    }
    const skiff = median(gaps)
    process.stderr.write(`skiff crash→running (ms): ${gaps.map((g) => g.toFixed(1)).join(' ')}\n`)

    const pm = peerGaps('podman', tar)
    const dk = peerGaps('docker', tar)
    return [
      row('service crash → next attempt running (backoff 0)', skiff, 'podman run --restart always', pm.ms, pm.note),
      row('service crash → next attempt running (backoff 0)', skiff, 'docker run --restart always', dk.ms, `${dk.note ?? ''}${dk.ms ? '; docker waits a fixed 100 ms first' : ''}`.replace(/^; /, '')),
    ]
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }
}

// docker's State times are RFC 3339 strings; podman's are Go times (formatted here)
const RFC3339 = '"2006-01-02T15:04:05.999999999Z07:00"'
const FORMAT = {
  docker: '{{.RestartCount}} {{.State.Running}} {{.State.StartedAt}} {{.State.FinishedAt}}',
  podman: `{{.RestartCount}} {{.State.Running}} {{.State.StartedAt.Format ${RFC3339}}} {{.State.FinishedAt.Format ${RFC3339}}}`,
}

/** Median FinishedAt → StartedAt gap of the first restart of SAMPLES/2 containers. */
function peerGaps(which: 'podman' | 'docker', tar: string): { ms: number | null; note?: string } {
  const p = which === 'podman' ? podman() : docker()
  if (!p.available) return { ms: null, note: `${which}: ${'why' in p && p.why ? p.why : 'not installed (SKIFF_BENCH_PEERS=1 scripts/setup-host)'}` }
  try {
    const image = which === 'podman' ? 'localhost/busybox:latest' : 'skiff-bench/busybox:latest'
    const imp = p.run(['import', tar, image])
    if (imp.status !== 0) throw new Error(`${which} import: ${imp.stderr}`)
    const extra = which === 'podman' ? PODMAN_ULIMITS : []
    const gaps: number[] = []
    for (let n = 0; n < SAMPLES / 2; n++) {
      const run = p.run(['run', '-d', '--restart', 'always', '--network', 'none', ...extra, image, 'sh', '-c', CMD])
      if (run.status !== 0) throw new Error(`${which} run: ${run.stderr}`)
      const cid = run.stdout.trim()
      const t0 = Date.now()
      for (;;) {
        const out = p.run(['inspect', '--format', FORMAT[which], cid]).stdout.trim()
        const [count, running, started, finished] = out.split(' ')
        const t = (s: string | undefined) => Date.parse(s ?? '')
        if (Number(count) >= 1 && running === 'true' && t(finished) > 0 && t(started) > t(finished)) {
          gaps.push(t(started) - t(finished))
          break
        }
        if (Date.now() - t0 > 30_000) throw new Error(`${which}: no restart seen in 30 s (${out})`)
      }
      p.run(['rm', '-f', cid])
    }
    process.stderr.write(`${which} crash→running (ms): ${gaps.map((g) => g.toFixed(1)).join(' ')}\n`)
    return { ms: median(gaps) }
  } catch (e) {
    return { ms: null, note: `${which}: ${(e as Error).message.slice(0, 160)}` }
  } finally {
    p.cleanup()
  }
}
