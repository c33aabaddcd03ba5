import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { median } from './types.js'

/** Rootful podman with all of its state under a temp dir (nothing touches the
 *  host's /var/lib/containers), configured for this host: cgroupfs, file events,
 *  crun, and rlimits under the host's hard limits (no CAP_SYS_RESOURCE here). */
export interface Podman {
  available: boolean
  run(args: string[]): { status: number | null; stdout: string; stderr: string }
  cleanup(): void
}

export const PODMAN_ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024']

export function podman(): Podman {
  const have = spawnSync('sh', ['-c', 'command -v podman']).status === 0
  if (!have) return { available: false, run: () => ({ status: null, stdout: '', stderr: 'podman not installed' }), cleanup() {} }
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-podman-'))
  for (const d of ['root', 'run', 'tmp', 'cni']) mkdirSync(join(dir, d))
  writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n`)
  writeFileSync(
    join(dir, 'containers.conf'),
    `[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${dir}/events.log"\nruntime = "crun"\ntmp_dir = "${dir}/tmp"\n\n[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "${dir}/cni"\n`,
  )
  const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), TMPDIR: join(dir, 'tmp') }
  const run = (args: string[]) => {
    const r = spawnSync('podman', args, { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  return {
    available: true,
    run,
    cleanup() {
      run(['rm', '-af'])
      run(['system', 'reset', '-f'])
      try {
        const mounts = execFileSync('awk', ['-v', `p=${dir}/`, '$2 ~ "^"p {print $2}', '/proc/self/mounts'], { encoding: 'utf8' }).split('\n').filter(Boolean)
        for (const m of mounts.reverse()) spawnSync('umount', ['-l', m])
      } catch {
        /* nothing mounted */
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Wall time of a synchronous action in ms. */
export function timeSync(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

/** Median ms of `podman run --rm --network none <rootfs> true` over `runs`, with the
 *  rootfs tarball imported into a throw-away podman store; null without podman. */
export function podmanRunTrueMs(rootfsTar: string, runs: number): number | null {
  const p = podman()
  if (!p.available) return null
  try {
    const imp = p.run(['import', rootfsTar, 'localhost/busybox:latest'])
    if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`)
    const once = () => {
      const r = p.run(['run', '--rm', '--network', 'none', ...PODMAN_ULIMITS, 'localhost/busybox:latest', 'true'])
      if (r.status !== 0) throw new Error(r.stderr)
    }
    once()
    const ms: number[] = []
    for (let i = 0; i < runs; i++) ms.push(timeSync(once))
    return median(ms)
  } finally {
    p.cleanup()
  }
}
