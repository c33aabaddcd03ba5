import { noCommand } from './errors.js'
import type { OciMount, OciSpec } from './oci-spec.js'
import { defaultSeccomp } from './seccomp.js'
import { normalizeCap, resolveCaps } from './capabilities.js'
import { defaultMounts, defaultRlimits, MASKED_PATHS, READONLY_PATHS } from './spec-defaults.js'
import type { ResolvedUser } from './user.js'
import { CFS_PERIOD_US, cpuQuotaUs } from './host-limits.js'

export interface SpecInput {
  process: { args: string[]; env: string[]; cwd: string; terminal?: boolean; consoleSize?: { rows: number; cols: number } }
  user: ResolvedUser
  limits: { memoryBytes?: number; cpus?: number; pids?: number }
  network: { mode: 'none' | 'host' | 'bridge'; netnsPath?: string }
  mounts: { source: string; destination: string; readonly?: boolean; type?: 'bind' | 'tmpfs' }[]
  hostname: string
  readonlyRootfs?: boolean
  capAdd?: string[]
  capDrop?: string[]
  hostLimits: Record<string, number>
  cgroupsPath: string
  rootfs: string
}

/** runc's rule (libcontainer/init_linux.go): HOME from the user's passwd entry when the env has none. */
export function withHome(env: readonly string[], home: string): string[] {
  return env.some((kv) => kv.startsWith('HOME=')) ? [...env] : [...env, `HOME=${home}`]
}

/** Pure: a resolved process + limits → OCI config.json. The one place where
 *  user-shaped names (cpus, memory) become spec-shaped ones. */
export function buildSpec(i: SpecInput): OciSpec {
  if (!i.process.args.length) throw noCommand()
  // names were validated at the API; normalizing again keeps the pure function total
  const norm = (l: string[] = []) => l.map((c) => normalizeCap(c)).filter((c): c is string => c !== undefined)
  const caps = resolveCaps(norm(i.capAdd), norm(i.capDrop))

  const mounts: OciMount[] = defaultMounts({ network: i.network.mode })
  for (const m of i.mounts) {
    if (m.type === 'tmpfs') mounts.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] })
    else mounts.push({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rprivate', m.readonly ? 'ro' : 'rw'] })
  }

  const namespaces: OciSpec['linux']['namespaces'] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }]
  if (i.network.mode !== 'host') namespaces.push(i.network.netnsPath ? { type: 'network', path: i.network.netnsPath } : { type: 'network' })

  const l = i.limits
  return {
    ociVersion: '1.0.2',
    process: {
      // a pseudo-terminal from the runtime, through conmon's console socket (monitor.ts -t)
      terminal: !!i.process.terminal,
      ...(i.process.terminal && i.process.consoleSize ? { consoleSize: { height: i.process.consoleSize.rows, width: i.process.consoleSize.cols } } : {}),
      user: { uid: i.user.uid, gid: i.user.gid, ...(i.user.additionalGids.length ? { additionalGids: i.user.additionalGids } : {}) },
      args: i.process.args,
      env: withHome(i.process.env, i.user.home),
      cwd: i.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: defaultRlimits(i.hostLimits),
      noNewPrivileges: true,
      oomScoreAdj: 0,
    },
    root: { path: i.rootfs, readonly: Boolean(i.readonlyRootfs) },
    hostname: i.hostname,
    mounts,
    linux: {
      namespaces,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        // https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#memory
        // swap = limit means no swap on top of memory (docker's --memory-swap = --memory)
        ...(l.memoryBytes ? { memory: { limit: l.memoryBytes, swap: l.memoryBytes } } : {}),
        // https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#cpu
        // docker's --cpus=0.5 is quota/period = 50000/100000
        ...(l.cpus ? { cpu: { quota: cpuQuotaUs(l.cpus), period: CFS_PERIOD_US } } : {}),
        ...(l.pids ? { pids: { limit: l.pids } } : {}),
      },
      cgroupsPath: i.cgroupsPath,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      seccomp: defaultSeccomp(caps),
    },
  }
}
