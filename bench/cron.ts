// Lateness of a scheduled run: the scheduled instant → the container running.
// skiff prepares a run up to 1 s ahead of its tick (image, rootfs, container
// created) and starts it on the tick; the peer does all of it on the tick.
// skiff: an every-second schedule on a real daemon, `true` in the cached busybox
// image; lateness = the run's startedAt (recorded when the runtime's start has
// returned) − its scheduled time. Peer, in the same run: a systemd timer when
// systemd runs here; otherwise (this machine: no systemd) the `cron` package's
// own CronJob firing a bare `crun run --detach` of a prepared bundle, lateness =
// the moment crun returns (container started) − the tick.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CronJob } from 'cron'
import { importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { percentile, row, type BenchRow } from './types.js'
import { busyboxRootfs, crunBundle } from './fixtures.js'

const WARMUP = 2

export async function benchCron(opts: { ticks?: number } = {}): Promise<BenchRow[]> {
  const ticks = opts.ticks ?? 60
  const { lateness: skiff, fire } = await skiffLateness(ticks)
  const peerName = existsSync('/run/systemd/system') ? 'systemd timer' : 'cron CronJob + crun run -d'
  const peer = existsSync('/run/systemd/system') ? null : await cronPackageLateness(ticks)
  const note = (p: number) => `n=${ticks}; skiff p${p} ${percentile(skiff, p).toFixed(1)} ms${peer ? `, peer ${percentile(peer, p).toFixed(1)} ms` : ''}`
  process.stderr.write(`cron lateness skiff: ${skiff.map((x) => x.toFixed(1)).join(' ')}\n`)
  if (peer) process.stderr.write(`cron lateness peer:  ${peer.map((x) => x.toFixed(1)).join(' ')}\n`)
  // the schedule's own share (timer, decision, tick + job transaction). Runs are
  // prepared ahead (schedulePrepareMs): negative, the run was queued before its tick
  // and only the start of a created container is left for the instant.
  const own = (p: number) => `tick → queued p${p} ${percentile(fire, p).toFixed(1)} ms (negative: prepared ahead)`
  return [
    row(`cron: tick → running, p50 (n=${ticks})`, percentile(skiff, 50), peerName, peer && percentile(peer, 50), `${note(50)}; ${own(50)}`),
    row(`cron: tick → running, p99 (n=${ticks})`, percentile(skiff, 99), peerName, peer && percentile(peer, 99), `target p99 ≤ 50 ms; ${note(99)}; ${own(99)}${existsSync('/run/systemd/system') ? '' : '; systemd does not run here'}`),
  ]
}

async function skiffLateness(ticks: number): Promise<{ lateness: number[]; fire: number[] }> {
  const d = await startDaemon({ maxConcurrent: 16 })
  try {
    await importBusybox(d)
    const c = await d.api('POST', '/schedules', { name: 'bench', cron: '* * * * * *', history: { success: 1000, failed: 1000 }, job: { image: 'busybox', cmd: ['true'] } })
    if (c.status !== 201) throw new Error(`POST /schedules: ${c.text}`)
    type Run = { scheduled_time: string; created_at: string; started_at: string | null; state: string }
    let runs: Run[] = []
    for (const t0 = Date.now(); ; ) {
      runs = (await d.api('GET', '/schedules/bench?runs=1000')).json.runs
      if (runs.filter((r) => r.started_at).length >= ticks + WARMUP) break
      if (Date.now() - t0 > (ticks + 60) * 3000) throw new Error('the schedule did not fire often enough')
      await new Promise((r) => setTimeout(r, 500))
    }
    await d.api('PATCH', '/schedules/bench', { suspend: true })
    const started = runs.filter((r) => r.started_at).reverse().slice(WARMUP, WARMUP + ticks)
    const missed = (await d.api('GET', '/schedules/bench?misses=1000')).json.misses.length
    if (missed) process.stderr.write(`cron bench: ${missed} tick(s) missed\n`)
    return {
      lateness: started.map((r) => Date.parse(r.started_at!) - Date.parse(r.scheduled_time)),
      fire: started.map((r) => Date.parse(r.created_at) - Date.parse(r.scheduled_time)),
    }
  } finally {
    await d.stop()
    removeDataDir(d.dataDir)
  }
}

async function cronPackageLateness(ticks: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-cron-'))
  const state = join(dir, 'crun-state')
  try {
    const rootfs = busyboxRootfs(dir)
    const bundle = crunBundle(dir, rootfs, ['true'])
    const out: number[] = []
    const deletes: Promise<unknown>[] = []
    let n = 0
    await new Promise<void>((resolve, reject) => {
      const job = CronJob.from({
        cronTime: '* * * * * *', timeZone: 'UTC', start: true,
        onTick: () => {
          const tick = Math.floor(Date.now() / 1000) * 1000
          const id = `cron${n++}`
          const p = spawn('crun', ['--root', state, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' })
          p.on('error', reject)
          p.on('exit', (code) => {
            const late = Date.now() - tick
            if (code !== 0) return reject(new Error(`crun run exited ${code}`))
            out.push(late)
            // not spawnSync: a blocked loop would make the next tick late
            deletes.push(new Promise((r) => spawn('crun', ['--root', state, 'delete', '--force', id], { stdio: 'ignore' }).on('close', r)))
            if (out.length >= ticks + WARMUP) {
              job.stop()
              resolve()
            }
          })
        },
      })
    })
    await Promise.all(deletes)
    return out.slice(WARMUP, WARMUP + ticks)
  } finally {
    // every container of ours is gone before its state dir goes (a tick may have fired after the last one counted)
    await new Promise((r) => setTimeout(r, 1500))
    for (const id of execFileSync('crun', ['--root', state, 'list', '-q'], { encoding: 'utf8' }).split('\n').filter(Boolean)) execFileSync('crun', ['--root', state, 'delete', '--force', id])
    rmSync(dir, { recursive: true, force: true })
  }
}
