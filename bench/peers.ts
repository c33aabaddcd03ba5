import { spawn, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
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
  // latin1: one char per byte, so output length is its byte count (log benches check it)
  const run = (args: string[]) => {
    const r = spawnSync('podman', args, { env, encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  return {
    available: true,
    run,
    cleanup() {
      run(['rm', '-af'])
      run(['system', 'reset', '-f'])
      removeUnmounting(dir)
    },
  }
}

/** Detach whatever a peer left mounted under its temp dir, then remove the dir. */
function removeUnmounting(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]!).filter((m) => m?.startsWith(dir + '/'))
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m])
  rmSync(dir, { recursive: true, force: true })
}

/** Wall time of a synchronous action in ms. */
export function timeSync(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

/** The tag each peer's store gets the busybox rootfs under. */
const PEER_IMAGE = { podman: 'localhost/busybox:latest', docker: 'skiff-bench/busybox:latest' } as const

/** Median ms of `<peer> run --rm <runArgs> <image> true` over `runs`, with `rootfsTar`
 *  imported into the peer's store first and one untimed run before the timed ones
 *  (the first pays for cold caches). Throws on a failed import or run. */
export function peerRunTrueMs(peer: { name: keyof typeof PEER_IMAGE; run: Podman['run'] }, o: { rootfsTar: string; runArgs: string[]; runs: number }): number {
  const image = PEER_IMAGE[peer.name]
  const imp = peer.run(['import', o.rootfsTar, image])
  if (imp.status !== 0) throw new Error(`${peer.name} import: ${imp.stderr}`)
  const once = () => {
    const r = peer.run(['run', '--rm', ...o.runArgs, image, 'true'])
    if (r.status !== 0) throw new Error(r.stderr)
  }
  once()
  const ms: number[] = []
  for (let i = 0; i < o.runs; i++) ms.push(timeSync(once))
  return median(ms)
}

/** A peer's measurement, or why there is none (a bench row's note): its error, cut short. */
export function msOrWhy(measure: () => number): { ms: number | null; why?: string } {
  try {
    return { ms: measure() }
  } catch (e) {
    return { ms: null, why: (e as Error).message.slice(0, 200) }
  }
}

/** Median ms of `podman run --rm --network none <rootfs> true` over `runs`, with the
 *  rootfs tarball imported into a throw-away podman store; null without podman. */
export function podmanRunTrueMs(rootfsTar: string, runs: number): number | null {
  const p = podman()
  if (!p.available) return null
  try {
    return peerRunTrueMs({ name: 'podman', run: p.run }, { rootfsTar, runArgs: ['--network', 'none', ...PODMAN_ULIMITS], runs })
  } finally {
    p.cleanup()
  }
}

/** A private dockerd (+ its own containerd) with every file under a temp dir and
 *  no host networking changes (no bridge, no iptables): for `docker run --rm` next
 *  to skiff. Available when Debian's docker.io is installed (SKIFF_BENCH_PEERS=1
 *  scripts/setup-host); nothing is left running or mounted after cleanup(). */
export interface Docker {
  available: boolean
  why?: string
  run(args: string[]): { status: number | null; stdout: string; stderr: string }
  /** the environment that points the docker CLI at this private dockerd (for spawning it yourself) */
  env: NodeJS.ProcessEnv
  /** containerd, then dockerd */
  pids: number[]
  cleanup(): void
}

/** `bridge`: containers get docker's default bridge network on this existing bridge
 *  (still no iptables, no forwarding changes); without it, no bridge network at all. */
export function docker(o: { bridge?: string } = {}): Docker {
  const missing = ['dockerd', 'containerd', 'docker'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0)
  const none = (why: string): Docker => ({ available: false, why, run: () => ({ status: null, stdout: '', stderr: why }), env: {}, pids: [], cleanup() {} })
  if (missing.length) return none(`not installed: ${missing.join(', ')}`)
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-docker-'))
  const ctrdSock = join(dir, 'containerd.sock')
  const host = `unix://${join(dir, 'docker.sock')}`
  writeFileSync(
    join(dir, 'containerd.toml'),
    `version = 2\nroot = "${dir}/containerd/root"\nstate = "${dir}/containerd/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${ctrdSock}"\n[ttrpc]\n  address = "${ctrdSock}.ttrpc"\n[plugins."io.containerd.internal.v1.opt"]\n  path = "${dir}/containerd/opt"\n`,
  )
  const pids: number[] = []
  const start = (cmd: string, args: string[], log: string) => {
    const out = openSync(join(dir, log), 'a')
    const c = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] })
    closeSync(out)
    c.unref()
    if (c.pid) pids.push(c.pid)
  }
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'client'), DOCKER_CLI_HINTS: 'false' }
  mkdirSync(join(dir, 'client'))
  writeFileSync(join(dir, 'client', 'config.json'), '{}')
  const run = (args: string[]) => {
    const r = spawnSync('docker', args, { env, encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const cleanup = () => {
    run(['rm', '-f', ...run(['ps', '-aq']).stdout.split('\n').filter(Boolean)])
    for (const pid of [...pids].reverse()) {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        continue
      }
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0)
          spawnSync('sleep', ['0.1'])
        } catch {
          break
        }
      }
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        /* gone */
      }
    }
    removeUnmounting(dir)
  }
  try {
    start('containerd', ['--config', join(dir, 'containerd.toml')], 'containerd.log')
    for (let i = 0; i < 300 && !existsSync(ctrdSock); i++) spawnSync('sleep', ['0.1'])
    start('dockerd', [
      `--containerd=${ctrdSock}`, '--data-root', join(dir, 'docker'), '--exec-root', join(dir, 'dexec'), '-H', host, '--pidfile', join(dir, 'dockerd.pid'),
      `--bridge=${o.bridge ?? 'none'}`, '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
    ], 'dockerd.log')
    for (let i = 0; i < 300; i++) {
      if (run(['version']).status === 0) return { available: true, run, env, pids, cleanup }
      spawnSync('sleep', ['0.1'])
    }
    const log = readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-300)
    cleanup()
    return none(`dockerd did not come up: ${log}`)
  } catch (e) {
    cleanup()
    return none((e as Error).message)
  }
}

/** Median ms of `docker run --rm --network none <rootfs> true` over `runs`, with
 *  the rootfs imported into a private dockerd; null (with why) without docker. */
export function dockerRunTrueMs(rootfsTar: string, runs: number): { ms: number | null; why?: string } {
  const d = docker()
  if (!d.available) return { ms: null, why: d.why }
  try {
    return msOrWhy(() => peerRunTrueMs({ name: 'docker', run: d.run }, { rootfsTar, runArgs: ['--network', 'none'], runs }))
  } finally {
    d.cleanup()
  }
}
