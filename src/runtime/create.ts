import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { removeFile } from '../lib/remove-tree.js'
import { join } from 'node:path'
import { Cleanup } from '../lib/cleanup.js'
import { SkiffError } from '../lib/errors.js'
import { realClock, type Clock } from '../lib/clock.js'
import { silentLogger, type Logger } from '../lib/log.js'
import { cgroupDirs, detectCgroupMode } from './cgroups/detect.js'
import { OciContainer, readMeta, type ContainerMeta } from './container.js'
import { OciCli, type OciState, type RuntimeName } from './driver.js'
import { invalidContainerId } from './errors.js'
import { makeBundleDir, writeBundle, writeBundleFile, writeLargeBundleFile } from './bundle.js'
import { attachNetwork, detachNetwork, etcFiles, NETWORK_FILE, ownNames, readHostFile, type NetworkDeps, type NetworkMeta } from './network/attach.js'
import { Cni } from './network/cni.js'
import { hostsFile } from './network/etc-files.js'
import { ExitWatcher } from './exit-watcher.js'
import { launchMonitor } from './monitor.js'
import { probeDiskSupport, removeLimitedLayer } from './disk-quota.js'
import { mountRootfs, removeDir, unmountRootfs, UserFiles } from './rootfs.js'
import { buildSpec } from './spec.js'
import { parseHostLimits } from './spec-defaults.js'
import type { BridgeNetwork, Container, ContainerSpec, MountRequest, Runtime } from './types.js'
import { exec } from '../lib/exec.js'
import { BPF_ANNOTATION, SeccompCache } from './seccomp-cache.js'
import { privateRuntimeCopy, type RuntimeBinary } from './runtime-binary.js'
import { resolveUser } from './user.js'
import { INIT_CANDIDATES, initUnavailable, withInit } from './init.js'

export interface RuntimeOptions {
  /** e.g. <dataDir>/runtime: state/, exits/, sockets/, containers/<id>/ */
  root: string
  runtime?: RuntimeName
  /** the init binary for process.init (default: tini-static or catatonit, found on the host) */
  init?: string
  conmon?: string
  cgroupRoot?: string
  clock?: Clock
  log?: Logger
  /** Create each crun container from a private unlinked copy of crun so it skips
   *  its per-call memfd re-exec (runtime-binary.ts). Default true. */
  privateRuntimeCopy?: boolean
  /** the host's resolver config, copied into each container (default /etc/resolv.conf) */
  hostResolvConf?: string
  /** where CNI plugin binaries are (default: Debian's /usr/lib/cni, then /opt/cni/bin) */
  cniPluginDirs?: string[]
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
const STDIN_PATH = '/.skiff-stdin'

export function createRuntime(o: RuntimeOptions): Runtime {
  const dirs = { state: join(o.root, 'state'), exits: join(o.root, 'exits'), sockets: join(o.root, 'sockets'), containers: join(o.root, 'containers'), layers: join(o.root, 'layers'), netns: join(o.root, 'netns'), ipam: join(o.root, 'cni', 'ipam') }
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 })
  const cli = new OciCli(o.runtime ?? 'crun', dirs.state, existsSync)
  // crun only: runc 1.1 re-executes its `init` with a clean environment, so a copy would not spare it anything
  const privateCopy = o.privateRuntimeCopy !== false && cli.name === 'crun'
  const conmon = o.conmon ?? ['/usr/bin/conmon', '/usr/local/bin/conmon', '/usr/libexec/podman/conmon'].find(existsSync) ?? 'conmon'
  const initBinary = o.init ?? INIT_CANDIDATES.find(existsSync)
  const cgroupRoot = o.cgroupRoot ?? '/sys/fs/cgroup'
  const mode = detectCgroupMode(cgroupRoot)
  const hostLimits = parseHostLimits(readFileSync('/proc/self/limits', 'utf8'))
  const exits = new ExitWatcher(dirs.exits)
  const clock = o.clock ?? realClock
  const log = o.log ?? silentLogger
  const seccomp = cli.name === 'crun' ? new SeccompCache(cli.path) : undefined
  const userFiles = new UserFiles()
  const hostResolvConf = o.hostResolvConf ?? '/etc/resolv.conf'
  const netDeps: NetworkDeps = { cni: new Cni({ pluginDirs: o.cniPluginDirs ?? ['/usr/lib/cni', '/opt/cni/bin'] }), netnsDir: dirs.netns, ipamDir: dirs.ipam }
  const deps = (id: string) => ({ dir: join(dirs.containers, id), socketLink: join(dirs.sockets, id), cli, exits, clock, log, net: netDeps })

  /** The runtime's state of a container, waiting out a create still in flight:
   *  conmon outlives a daemon killed during create and finishes it, so an
   *  adopter that looked too early would take a half-made container for gone
   *  (and tear down what conmon is still building) or for one that can never be
   *  started (`creating`). Polls while conmon lives, at most 30 s. */
  async function createdState(id: string, dir: string): Promise<OciState | undefined> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const st = await cli.state(id)
      if (st && st.status !== 'creating') return st
      if (!processAlive(monitorPid(id, dir)) || Date.now() > deadline) return st
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  return {
    name: cli.name,

    async create(spec: ContainerSpec): Promise<Container> {
      if (!ID.test(spec.id)) throw invalidContainerId(spec.id)
      const p = spec.process
      if (p.stdin !== undefined && p.openStdin) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'stdin: give data or an open stdin (interactive), not both', { field: 'stdin' })
      await using undo = new Cleanup()
      // bundle step: the container's private dir
      const dir = makeBundleDir(dirs.containers, spec.id)
      undo.defer(() => removeDir(dir))
      // made on the thread pool while the rootfs is mounted
      const binary: Promise<RuntimeBinary> = privateCopy ? privateRuntimeCopy(cli.path, dir) : Promise.resolve({ path: cli.path, env: {}, close: async () => {} })
      undo.defer(async () => (await binary).close())

      // rootfs step
      const rootfs = await mountRootfs(dir, { ...spec.rootfs, ...(spec.limits.diskBytes !== undefined ? { diskBytes: spec.limits.diskBytes } : {}) })
      undo.defer(() => unmountRootfs(rootfs.merged))
      const [passwd, group] = await userFiles.get(spec.rootfs.lowerDirs, rootfs.merged)
      const user = resolveUser(p.user, passwd, group)

      // network step: the netns, then the container's own /etc/hostname, /etc/hosts
      // and /etc/resolv.conf (before the request's mounts, so a mount of its own wins)
      const net = await attachNetwork(spec.network, { id: spec.id, bundle: dir, deps: netDeps })
      if (net.meta) undo.defer(() => detachNetwork(net.meta!, dir, netDeps))
      const peers = spec.network.mode === 'bridge' ? spec.network.peers : []
      const etc = etcFiles({ hostname: spec.hostname, aliases: spec.aliases ?? [], ips: net.ips, mode: net.mode, hostResolvConf: readHostFile(hostResolvConf), peers })
      const mounts: MountRequest[] = [...Object.entries(etc).map(([name, text]) => ({ source: writeBundleFile(dir, name, text), destination: `/etc/${name}` })), ...spec.mounts]
      let args = p.args
      if (p.stdin !== undefined) {
        // Feed stdin from a file bound into the container: the job gets its data
        // and then EOF, with no daemon-side pipe that would die with the daemon.
        mounts.push({ source: await writeLargeBundleFile(dir, 'stdin', p.stdin), destination: STDIN_PATH, readonly: true })
        args = ['/bin/sh', '-c', `exec "$@" < ${STDIN_PATH}`, 'sh', ...p.args]
      }
      if (p.init) {
        if (!initBinary) throw initUnavailable()
        const i = withInit(args, initBinary)
        args = i.args
        mounts.push(i.mount)
      }
      const cgroupsPath = `/skiff/${spec.id}`
      const oci = buildSpec({
        process: { args, env: p.env, cwd: p.cwd, terminal: p.terminal, consoleSize: p.consoleSize },
        user,
        limits: spec.limits,
        network: { mode: net.mode, netnsPath: net.netnsPath },
        mounts,
        hostname: spec.hostname,
        readonlyRootfs: spec.rootfs.readonly,
        capAdd: spec.capAdd,
        capDrop: spec.capDrop,
        hostLimits,
        cgroupsPath,
        rootfs: rootfs.merged,
      })
      const profile = oci.linux.seccomp
      const bpf = profile && seccomp?.get(profile)
      if (bpf) oci.annotations = { ...oci.annotations, [BPF_ANNOTATION]: bpf }
      const cg = cgroupDirs(mode, cgroupsPath, cgroupRoot)
      const meta: ContainerMeta = {
        id: spec.id,
        createdAt: clock.now().getTime(),
        ...(spec.limits.timeoutMs ? { timeoutMs: spec.limits.timeoutMs } : {}),
        cgroupMode: mode,
        cgroupDirs: { memory: cg.memory, cpu: cg.cpu, all: cg.all },
        merged: rootfs.merged,
        ...(p.openStdin ? { openStdin: true } : {}),
        etc: { names: ownNames(spec.hostname, spec.aliases ?? []), ips: net.ips },
        ...(net.meta ? { network: net.meta } : {}),
        ...(p.terminal ? { terminal: true } : {}),
      }
      writeBundle(dir, oci, meta)

      // monitor: conmon runs the OCI runtime's create
      // conmon links <sockets>/<id> to its attach socket before the runtime runs: a failed create leaves it
      undo.defer(() => removeFile(join(dirs.sockets, spec.id)))
      const bin = await binary
      const pid = await launchMonitor(
        spec.id,
        {
          conmon,
          runtimePath: bin.path,
          runtimeArgs: cli.globalArgs(),
          bundle: dir,
          pidFile: join(dir, 'container.pid'),
          conmonPidFile: join(dir, 'conmon.pid'),
          logPath: spec.logPath,
          exitDir: dirs.exits,
          socketDir: dirs.sockets,
          env: bin.env,
        },
        { timeoutSecs: spec.limits.timeoutMs ? Math.ceil(spec.limits.timeoutMs / 1000) + 2 : undefined, command: oci.process.args[0], stdin: p.openStdin, terminal: p.terminal },
      )
      undo.defer(() => cli.delete(spec.id, { force: true }))
      await bin.close() // used once: conmon has run the runtime and it has exited
      if (profile && !bpf) await seccomp?.learn(profile, join(dirs.state, spec.id))
      const c = new OciContainer(spec.id, pid, meta, deps(spec.id))
      undo.commit()
      return c
    },

    async adopt(id: string, opts: { start?: boolean } = {}): Promise<Container | undefined> {
      if (!ID.test(id)) return undefined
      const dir = join(dirs.containers, id)
      const meta = await readMeta(dir)
      if (!meta) {
        // A create cut short before meta.json: undo what it got to (network, rootfs, dir).
        await removeOrphanBundle(dir, netDeps)
        return undefined
      }
      const exited = exits.read(id)
      const state = exited ? undefined : await createdState(id, dir)
      // No recorded exit and no monitor (conmon died with the daemon during the
      // create, or the container is gone): nobody would log its output or record
      // its exit, so it cannot be adopted. Clean up what is left.
      if (!exited && (!state || !processAlive(monitorPid(id, dir)))) {
        const c = new OciContainer(id, 0, meta, deps(id))
        await c.remove().catch(() => {})
        return undefined
      }
      const c = new OciContainer(id, state?.pid ?? 0, meta, deps(id))
      // created but never started (the daemon died in between): start it, unless the
      // caller only wants to tear it down
      if (state?.status === 'created' && opts.start !== false) await c.start()
      else c.armTimeout()
      return c
    },

    async updateHosts(id: string, peers): Promise<void> {
      if (!ID.test(id)) return
      const dir = join(dirs.containers, id)
      const meta = await readMeta(dir)
      if (!meta?.etc) return
      rewriteInPlace(join(dir, 'hosts'), hostsFile({ names: meta.etc.names, ips: meta.etc.ips }, peers))
    },

    async removeNetwork(n: BridgeNetwork): Promise<void> {
      // not while a container of it is still being torn down: its CNI DEL needs the leases and the bridge
      const attached = (await readdir(dirs.containers)).filter((id) => {
        const nm = readHostFile(join(dirs.containers, id, NETWORK_FILE))
        return nm !== undefined && (JSON.parse(nm) as NetworkMeta).conflist.name === n.name
      })
      if (attached.length) throw new SkiffError('conflict', 'NETWORK_IN_USE', `network ${n.name} still has ${attached.length} container(s) being torn down: ${attached.slice(0, 5).join(', ')}`, { field: 'name', detail: { containers: attached } })
      // The CNI bridge plugin makes a network's bridge on first use and never deletes it.
      if (/^[A-Za-z0-9_.-]{1,15}$/.test(n.bridge) && existsSync(`/sys/class/net/${n.bridge}`)) await exec(['ip', 'link', 'del', n.bridge], { allowFailure: true })
      if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(n.name)) await removeDir(join(dirs.ipam, n.name))
    },

    async list(): Promise<string[]> {
      return (await readdir(dirs.containers)).filter((n) => ID.test(n))
    },

    layerDir(key: string): string {
      if (!ID.test(key)) throw invalidContainerId(key)
      return join(dirs.layers, key)
    },

    async removeLayer(key: string): Promise<void> {
      if (!ID.test(key)) throw invalidContainerId(key)
      const dir = join(dirs.layers, key)
      if (!(await removeLimitedLayer(dir))) await removeDir(dir)
    },

    diskSupport() {
      return probeDiskSupport(dirs.layers)
    },

    close() {
      exits.close()
    },
  }
}

/** Replace a file's bytes without replacing the file: a bind mount pins the inode,
 *  so write-then-rename would leave the container the old one. New bytes first,
 *  then the length: resolvers re-read /etc/hosts on every lookup, and the window
 *  in which one could see a mix is one write(2). */
function rewriteInPlace(path: string, text: string): void {
  let fd: number
  try {
    fd = openSync(path, 'r+')
  } catch {
    return // the container is gone
  }
  try {
    const b = Buffer.from(text)
    writeSync(fd, b, 0, b.length, 0)
    ftruncateSync(fd, b.length)
  } finally {
    closeSync(fd)
  }
}

async function removeOrphanBundle(dir: string, net: NetworkDeps): Promise<void> {
  const nm = readHostFile(join(dir, NETWORK_FILE))
  if (nm) await detachNetwork(JSON.parse(nm) as NetworkMeta, dir, net).catch(() => {})
  await unmountRootfs(join(dir, 'merged'), { lazy: true })
  await removeDir(dir).catch(() => {})
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** The container's conmon: from its pid file, or — in the moment between its
 *  spawn and that file, which a crash can hit — found by its `-c <id>` argument. */
function monitorPid(id: string, dir: string): number | undefined {
  const pid = readPid(join(dir, 'conmon.pid'))
  if (pid) return pid
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')
      if (argv[0]?.endsWith('conmon') && argv.includes('-c') && argv[argv.indexOf('-c') + 1] === id) return Number(p)
    } catch {
      /* gone */
    }
  }
  return undefined
}

function processAlive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
