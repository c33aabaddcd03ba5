import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { removeFile } from '../lib/remove-tree.js'
import { join } from 'node:path'
import { Cleanup } from '../lib/cleanup.js'
import { SkiffError } from '../lib/errors.js'
import { realClock, type Clock } from '../lib/clock.js'
import { silentLogger, type Logger } from '../lib/log.js'
import { cgroupDirs, detectCgroupMode } from './cgroups/detect.js'
import { OciContainer, readMeta, type ContainerMeta } from './container.js'
import { OciCli, type RuntimeName } from './driver.js'
import { containerExists, invalidContainerId } from './errors.js'
import { ExitWatcher } from './exit-watcher.js'
import { launchMonitor } from './monitor.js'
import { mountRootfs, removeDir, unmountRootfs } from './rootfs.js'
import { buildSpec } from './spec.js'
import { parseHostLimits } from './spec-defaults.js'
import type { Container, ContainerSpec, Runtime } from './types.js'
import { BPF_ANNOTATION, SeccompCache } from './seccomp-cache.js'
import { privateRuntimeCopy, type RuntimeBinary } from './runtime-binary.js'
import { resolveUser } from './user.js'

export interface RuntimeOptions {
  /** e.g. <dataDir>/runtime: state/, exits/, sockets/, containers/<id>/ */
  root: string
  runtime?: RuntimeName
  conmon?: string
  cgroupRoot?: string
  clock?: Clock
  log?: Logger
  /** Create each crun container from a private unlinked copy of crun so it skips
   *  its per-call memfd re-exec (runtime-binary.ts). Default true. */
  privateRuntimeCopy?: boolean
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
const STDIN_PATH = '/.skiff-stdin'

/** Read a small file from the rootfs without following a symlink out of it:
 *  a hostile image's /etc/passwd could point at the host's files. */
async function readInRoot(rootfs: string, rel: string): Promise<string | undefined> {
  const p = join(rootfs, rel)
  try {
    const st = await lstat(p)
    if (!st.isFile() || st.size > 4 * 1024 * 1024) return undefined
    return await readFile(p, 'utf8')
  } catch {
    return undefined
  }
}

export function createRuntime(o: RuntimeOptions): Runtime {
  const dirs = { state: join(o.root, 'state'), exits: join(o.root, 'exits'), sockets: join(o.root, 'sockets'), containers: join(o.root, 'containers') }
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 })
  const cli = new OciCli(o.runtime ?? 'crun', dirs.state, existsSync)
  // crun only: runc 1.1 re-executes its `init` with a clean environment, so a copy would not spare it anything
  const privateCopy = o.privateRuntimeCopy !== false && cli.name === 'crun'
  const conmon = o.conmon ?? ['/usr/bin/conmon', '/usr/local/bin/conmon', '/usr/libexec/podman/conmon'].find(existsSync) ?? 'conmon'
  const cgroupRoot = o.cgroupRoot ?? '/sys/fs/cgroup'
  const mode = detectCgroupMode(cgroupRoot)
  const hostLimits = parseHostLimits(readFileSync('/proc/self/limits', 'utf8'))
  const exits = new ExitWatcher(dirs.exits)
  const clock = o.clock ?? realClock
  const log = o.log ?? silentLogger
  const seccomp = cli.name === 'crun' ? new SeccompCache(cli.path) : undefined
  const userFiles = new Map<string, Promise<[string | undefined, string | undefined]>>()
  const deps = (id: string) => ({ dir: join(dirs.containers, id), socketLink: join(dirs.sockets, id), cli, exits, clock, log })

  return {
    name: cli.name,

    async create(spec: ContainerSpec): Promise<Container> {
      if (!ID.test(spec.id)) throw invalidContainerId(spec.id)
      const dir = join(dirs.containers, spec.id)
      await using undo = new Cleanup()
      await mkdir(dir, { recursive: false, mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? containerExists(spec.id) : e
      })
      undo.defer(() => removeDir(dir))
      // made on the thread pool while the rootfs is mounted
      const binary: Promise<RuntimeBinary> = privateCopy ? privateRuntimeCopy(cli.path, dir) : Promise.resolve({ path: cli.path, env: {}, close: async () => {} })
      undo.defer(async () => (await binary).close())
      const rootfs = await mountRootfs(dir, spec.lowerDirs)
      undo.defer(() => unmountRootfs(rootfs.merged))

      // Layer snapshots never change, so neither do the image's user files: read them once per layer stack.
      const key = spec.lowerDirs.join(':')
      let files = userFiles.get(key)
      if (!files) {
        files = Promise.all([readInRoot(rootfs.merged, 'etc/passwd'), readInRoot(rootfs.merged, 'etc/group')])
        userFiles.set(key, files)
        if (userFiles.size > 256) userFiles.delete(userFiles.keys().next().value!)
      }
      const [passwd, group] = await files
      const user = resolveUser(spec.process.user ?? spec.image.config.User, passwd, group)
      const cgroupsPath = `/skiff/${spec.id}`
      const mounts = [...spec.mounts]
      let cmd = spec.process.cmd
      let entrypoint = spec.process.entrypoint
      if (spec.process.stdin !== undefined && spec.process.openStdin) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'stdin: give data or an open stdin (interactive), not both', { field: 'stdin' })
      if (spec.process.stdin !== undefined) {
        // Feed stdin from a file bound into the container: the job gets its data
        // and then EOF, with no daemon-side pipe that would die with the daemon.
        const f = join(dir, 'stdin')
        await writeFile(f, spec.process.stdin, { mode: 0o644 })
        mounts.push({ source: f, destination: STDIN_PATH, readonly: true })
        const args = [...(entrypoint ?? spec.image.config.Entrypoint ?? []), ...(cmd ?? (entrypoint ? [] : (spec.image.config.Cmd ?? [])))]
        entrypoint = ['/bin/sh', '-c', `exec "$@" < ${STDIN_PATH}`, 'sh']
        cmd = args
      }
      const oci = buildSpec({
        id: spec.id,
        imageConfig: spec.image.config,
        process: { entrypoint, cmd, env: spec.process.env, cwd: spec.process.cwd },
        user,
        limits: spec.limits,
        network: { mode: spec.network.mode },
        mounts,
        hostname: spec.hostname,
        readonlyRootfs: spec.readonlyRootfs,
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
        ...(spec.process.openStdin ? { openStdin: true } : {}),
      }
      // Two small files into the page cache: synchronous writes cost ~40 µs each,
      // against ~0.6 ms of thread-pool round trips on the job start path.
      writeFileSync(join(dir, 'config.json'), JSON.stringify(oci))
      writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta))
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
        { timeoutSecs: spec.limits.timeoutMs ? Math.ceil(spec.limits.timeoutMs / 1000) + 2 : undefined, command: oci.process.args[0], stdin: spec.process.openStdin },
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
      if (!meta) return undefined
      const exited = exits.read(id)
      const state = exited ? undefined : await cli.state(id)
      if (!exited && !state) {
        // Neither running nor a recorded exit: the monitor is gone. Clean up what is left.
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

    async list(): Promise<string[]> {
      return (await readdir(dirs.containers)).filter((n) => ID.test(n))
    },

    close() {
      exits.close()
    },
  }
}
