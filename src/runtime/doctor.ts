import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { detectCgroupMode, type CgroupMode } from './cgroups/detect.js'
import { readMeta } from './container.js'
import { Cni } from './network/cni.js'
import { probeDiskSupport } from './disk-quota.js'

export interface Finding {
  check: string
  ok: boolean
  severity: 'error' | 'warn'
  message: string
  fix?: string
}

export interface HostFacts {
  cgroupMode: CgroupMode
  hugetlbMounted: boolean
  hugetlbAvailable: boolean
  /** some cgroup hierarchy is mounted with favordynmods (the effect is global) */
  favorDynmods: boolean
  overlay: boolean
  binaries: Record<string, string | undefined>
  capEff: bigint
  cniPlugins: string[]
  uid: number
}

const CAP_SYS_RESOURCE = 24n
const CAP_SYS_ADMIN = 21n
const has = (caps: bigint, n: bigint) => (caps & (1n << n)) !== 0n

/** Pure: host facts → findings, each with the command that fixes it. */
export function evaluate(f: HostFacts): Finding[] {
  const out: Finding[] = []
  const add = (check: string, ok: boolean, message: string, fix?: string, severity: 'error' | 'warn' = 'error') => out.push({ check, ok, severity, message, ...(ok || !fix ? {} : { fix }) })
  add('root', f.uid === 0 && has(f.capEff, CAP_SYS_ADMIN), f.uid === 0 ? 'running as root with CAP_SYS_ADMIN' : `running as uid ${f.uid}: skiff mounts overlayfs and creates cgroups`, 'run the daemon as root')
  add('cgroups', true, `cgroup mode: ${f.cgroupMode}${f.cgroupMode === 'unified' ? ' (v2)' : f.cgroupMode === 'hybrid' ? ' (v1 controllers + cgroup2 at /sys/fs/cgroup/unified)' : ' (v1)'}`)
  if (f.cgroupMode === 'hybrid' && f.hugetlbAvailable)
    add('hybrid-hugetlb', f.hugetlbMounted, f.hugetlbMounted ? 'hugetlb v1 hierarchy mounted (crun needs it on hybrid hosts)' : 'hybrid cgroup host without the hugetlb v1 hierarchy: crun refuses to run containers', 'mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb')
  add(
    'cgroup-favordynmods',
    f.favorDynmods,
    f.favorDynmods
      ? 'cgroups mounted with favordynmods: moving a container into its cgroup takes ~0.2 ms'
      : 'no cgroup hierarchy has favordynmods: every container start waits ~10 ms for an RCU grace period',
    'scripts/setup-host (remounts the cgroup2 hierarchy with its current options plus favordynmods; kernel >= 6.0)',
    'warn',
  )
  add('overlayfs', f.overlay, f.overlay ? 'overlayfs available' : 'overlayfs not in /proc/filesystems', 'modprobe overlay')
  for (const [name, path] of Object.entries(f.binaries)) {
    const optional = name === 'runsc' || name === 'runc'
    add(name, !!path, path ? `${name} at ${path}` : `${name} not found`, name === 'runsc' ? 'install gVisor (runsc) to use --runtime runsc' : `apt-get install ${name}`, optional ? 'warn' : 'error')
  }
  add('cap-sys-resource', has(f.capEff, CAP_SYS_RESOURCE), has(f.capEff, CAP_SYS_RESOURCE) ? 'CAP_SYS_RESOURCE present' : 'no CAP_SYS_RESOURCE: container rlimits are capped at the host\'s hard limits', 'run with CAP_SYS_RESOURCE to allow higher rlimits', 'warn')
  const missing = CNI_PLUGINS.filter((p) => !f.cniPlugins.includes(p))
  add('cni', !missing.length, !missing.length ? `CNI plugins: ${CNI_PLUGINS.join(', ')} in /usr/lib/cni` : `CNI plugins missing from /usr/lib/cni: ${missing.join(', ')} (bridge networks and published ports need them)`, 'apt-get install containernetworking-plugins', 'warn')
  return out
}

function which(names: string[]): string | undefined {
  return names.find((p) => existsSync(p))
}

export function gatherFacts(root = '/sys/fs/cgroup'): HostFacts {
  const status = readFileSync('/proc/self/status', 'utf8')
  const capEff = BigInt('0x' + (/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'))
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
  let cni: string[] = []
  try {
    cni = readdirSync('/usr/lib/cni')
  } catch {
    /* none */
  }
  return {
    cgroupMode: detectCgroupMode(root),
    hugetlbMounted: mounts.split('\n').some((l) => l.split(' ')[1] === `${root}/hugetlb`),
    hugetlbAvailable: /^hugetlb\s/m.test(readFileSync('/proc/cgroups', 'utf8')),
    favorDynmods: mounts.split('\n').some((l) => /^\S+ \S+ cgroup2? /.test(l) && l.split(' ')[3]!.split(',').includes('favordynmods')),
    overlay: /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8')),
    binaries: {
      crun: which(['/usr/bin/crun', '/usr/local/bin/crun']),
      conmon: which(['/usr/bin/conmon', '/usr/local/bin/conmon', '/usr/libexec/podman/conmon']),
      runc: which(['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/bin/runc']),
      runsc: which(['/usr/bin/runsc', '/usr/local/bin/runsc']),
      mount: which(['/usr/bin/mount', '/bin/mount']),
    },
    capEff,
    cniPlugins: cni,
    uid: process.getuid?.() ?? -1,
  }
}

/** The plugins a skiff bridge network runs (network/conflist.ts). */
const CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'firewall']

export async function runDoctor(): Promise<Finding[]> {
  return evaluate(gatherFacts())
}

/** Whether limits.disk can be honoured for the data dir (`<data-dir>/runtime/layers`, or its nearest existing parent). */
export function diskFindings(layersDir: string): Finding[] {
  const s = probeDiskSupport(layersDir)
  return [s.available
    ? { check: 'disk-limits', ok: true, severity: 'warn', message: `limits.disk available: btrfs quota groups on ${s.mount}` }
    : { check: 'disk-limits', ok: false, severity: 'warn', message: `limits.disk unavailable: ${s.reason}`, fix: 'jobs without limits.disk are unaffected; to limit them, put the data dir on btrfs with `btrfs quota enable MOUNT`' }]
}

/** CNI CHECK of every bridge container under a runtime root (<data-dir>/runtime):
 *  its veth, address, routes and iptables rules still as ADD left them. */
export async function networkFindings(runtimeRoot: string, pluginDirs = ['/usr/lib/cni', '/opt/cni/bin']): Promise<Finding[]> {
  const dir = join(runtimeRoot, 'containers')
  let ids: string[] = []
  try {
    ids = readdirSync(dir)
  } catch {
    return []
  }
  const cni = new Cni({ pluginDirs, timeoutMs: 30_000 })
  const out: Finding[] = []
  for (const id of ids) {
    const meta = await readMeta(join(dir, id))
    const n = meta?.network
    if (!n?.result || !existsSync(n.netns)) continue
    try {
      await cni.check(n.conflist, n.attachment, n.result, join(dir, id))
      out.push({ check: 'cni-check', ok: true, severity: 'error', message: `container ${id} on network ${n.conflist.name}: CNI CHECK passed` })
    } catch (e) {
      out.push({ check: 'cni-check', ok: false, severity: 'error', message: `container ${id} on network ${n.conflist.name}: ${(e as Error).message}`, fix: `skiff restart ${id.replace(/\.\d+$/, '')} (a new attempt is wired afresh)` })
    }
  }
  return out
}
