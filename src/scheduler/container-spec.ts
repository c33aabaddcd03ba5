import type { ImageConfig } from '../images/types.js'
import { SkiffError } from '../lib/errors.js'
import { noCommand, type ContainerSpec, type NetworkSpec } from '../runtime/index.js'
import type { RunSpec } from './types.js'

// The one place where an image's config and a job's request meet: docker's
// rules for the command line, environment, user, working dir and hostname,
// resolved into the runtime's plain ContainerSpec. Pure.

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** docker's Entrypoint/Cmd rules: a request's entrypoint replaces the image's
 *  and then drops the image's Cmd; a request's cmd replaces the image's Cmd. */
export function resolveArgs(image: Pick<ImageConfig, 'Entrypoint' | 'Cmd'>, req: { entrypoint?: string[]; cmd?: string[] }): string[] {
  const entrypoint = req.entrypoint ?? image.Entrypoint ?? []
  const cmd = req.cmd ?? (req.entrypoint !== undefined ? [] : (image.Cmd ?? []))
  const args = [...entrypoint, ...cmd]
  if (!args.length) throw noCommand()
  return args
}

/** PATH and HOSTNAME defaulted like docker, then the image's Env, then the
 *  request's on top. (HOME comes from the user's passwd entry in the runtime.) */
export function mergeEnv(imageEnv: string[] | undefined, req: Record<string, string>, extra: { hostname?: string } = {}): string[] {
  const m = new Map<string, string>()
  m.set('PATH', DEFAULT_PATH)
  if (extra.hostname) m.set('HOSTNAME', extra.hostname)
  for (const kv of imageEnv ?? []) {
    const i = kv.indexOf('=')
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1))
  }
  for (const [k, v] of Object.entries(req)) m.set(k, v)
  return [...m].map(([k, v]) => `${k}=${v}`)
}

/** docker names a container's host after its id; a job's attempts share the job's. */
export const defaultHostname = (jobId: string) => jobId.slice(-12).toLowerCase()

export interface ContainerSpecInput {
  /** the container's id (one per attempt), e.g. `<job>.<n>` */
  containerId: string
  job: { id: string; spec: RunSpec }
  image: { config: ImageConfig }
  /** the image's snapshot dirs, top layer first */
  lowerDirs: string[]
  logPath: string
  /** a writable layer that outlives the container (kept per job); absent: a fresh one */
  layerDir?: string
  /** the job's network as resolved for this container (networks.ts attach); needed for bridge */
  network?: NetworkSpec
}

/** Pure: the process part alone (what execve will see), e.g. to check a request before it is accepted. */
export function resolveProcess(i: Pick<ContainerSpecInput, 'job' | 'image'>): ContainerSpec['process'] {
  const s = i.job.spec
  const img = i.image.config
  const hostname = s.hostname ?? defaultHostname(i.job.id)
  const user = s.user ?? (img.User || undefined)
  return {
    args: resolveArgs(img, s),
    env: mergeEnv(img.Env, s.env, { hostname }),
    cwd: s.workdir ?? (img.WorkingDir || '/'),
    ...(user ? { user } : {}),
    // interactive: stdin stays open (the request's stdin data is written to it first, by the caller)
    ...(s.interactive ? { openStdin: true } : s.stdin !== undefined ? { stdin: Buffer.from(s.stdin) } : {}),
    ...(s.init ? { init: true } : {}),
    ...(s.tty ? { terminal: true, ...(s.consoleSize ? { consoleSize: s.consoleSize } : {}) } : {}),
  }
}

/** Pure: job request + image config (+ its resolved network) → the runtime's ContainerSpec. */
export function containerSpec(i: ContainerSpecInput): ContainerSpec {
  const s = i.job.spec
  const hostname = s.hostname ?? defaultHostname(i.job.id)
  const network = i.network ?? (s.network.mode === 'bridge' ? undefined : { mode: s.network.mode })
  if (!network) throw new SkiffError('internal', 'INTERNAL', `job ${i.job.id}: its bridge network was not resolved`)
  return {
    id: i.containerId,
    rootfs: { lowerDirs: i.lowerDirs, ...(i.layerDir ? { layerDir: i.layerDir } : {}), ...(s.readonlyRootfs ? { readonly: true } : {}) },
    process: resolveProcess(i),
    hostname,
    ...(s.name && s.name.toLowerCase() !== hostname ? { aliases: [s.name] } : {}),
    limits: s.limits,
    network,
    ...(s.capAdd?.length ? { capAdd: s.capAdd } : {}),
    ...(s.capDrop?.length ? { capDrop: s.capDrop } : {}),
    mounts: [],
    logPath: i.logPath,
  }
}
