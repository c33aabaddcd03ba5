import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { NetworkSpec } from '../types.js'
import type { Cni, CniAttachment, CniConflist, CniResult } from './cni.js'
import { bridgeConflist, runtimeConfig } from './conflist.js'
import { hostnameFile, hostsFile, resolvConf, type HostEntry } from './etc-files.js'
import { createNetns, destroyNetns } from './netns.js'

/** What a container's network comes to in its OCI spec and /etc files. */
export interface NetworkAttachment {
  mode: NetworkSpec['mode']
  /** a network namespace prepared before create (bridge); absent: the runtime makes a fresh one (none) or none at all (host) */
  netnsPath?: string
  ips: string[]
  /** what teardown needs, kept in meta.json (bridge only) */
  meta?: NetworkMeta
}

/** A bridge attachment as it survives the daemon: enough to DEL it and CHECK it. */
export interface NetworkMeta {
  netns: string
  conflist: CniConflist
  attachment: CniAttachment
  result?: CniResult
}

export interface NetworkDeps {
  cni: Cni
  /** where netns files live, <root>/netns */
  netnsDir: string
  /** host-local's lease dir, <root>/cni/ipam */
  ipamDir: string
}

const IFNAME = 'eth0'
/** network.json in the bundle: written before the first CNI call, so a daemon that dies
 *  mid-create leaves enough behind for the next one to undo it. */
export const NETWORK_FILE = 'network.json'

/** The network step of create. none and host need nothing made ahead of the
 *  container (no fork, no syscall): the OCI runtime makes or skips the netns.
 *  bridge: a netns file, then CNI ADD into it (plugins are spawns: only these jobs pay). */
export async function attachNetwork(spec: NetworkSpec, c: { id: string; bundle: string; deps?: NetworkDeps }): Promise<NetworkAttachment> {
  if (spec.mode !== 'bridge') return { mode: spec.mode, ips: [] }
  const d = c.deps
  if (!d) throw new Error('bridge networking needs the runtime\'s CNI deps')
  const netns = join(d.netnsDir, c.id)
  const prefix = Number(spec.network.subnet.split('/')[1])
  const meta: NetworkMeta = {
    netns,
    conflist: bridgeConflist(spec.network, { ipamDir: d.ipamDir, ports: spec.ports.length > 0 }),
    attachment: { containerId: c.id, netns, ifname: IFNAME, runtimeConfig: runtimeConfig(spec.ip, prefix, spec.ports) },
  }
  writeFileSync(join(c.bundle, NETWORK_FILE), JSON.stringify(meta))
  await createNetns(netns)
  try {
    meta.result = await d.cni.add(meta.conflist, meta.attachment, c.bundle)
  } catch (e) {
    await destroyNetns(netns).catch(() => {})
    throw e
  }
  const ips = (meta.result.ips ?? []).map((i) => i.address.split('/')[0]!)
  return { mode: 'bridge', netnsPath: netns, ips: ips.length ? ips : [spec.ip], meta }
}

/** Undo attachNetwork: CNI DEL while the netns still exists (the bridge plugin finds
 *  the container's address, and so its masquerade rules, through the device in it),
 *  then the netns. Idempotent: DEL of something already gone succeeds. */
export async function detachNetwork(meta: NetworkMeta, scratch: string, deps: NetworkDeps): Promise<void> {
  try {
    await deps.cni.del(meta.conflist, meta.attachment, meta.result, scratch)
  } finally {
    await destroyNetns(meta.netns)
  }
}

/** Pure: the files bound over the image's /etc/hostname, /etc/hosts and /etc/resolv.conf. */
export function etcFiles(o: { hostname: string; aliases: string[]; ips: string[]; mode: NetworkSpec['mode']; hostResolvConf: string | undefined; peers?: HostEntry[]; nameservers?: string[] }): Record<'hostname' | 'hosts' | 'resolv.conf', string> {
  return {
    hostname: hostnameFile(o.hostname),
    hosts: hostsFile({ names: ownNames(o.hostname, o.aliases), ips: o.ips }, o.peers),
    'resolv.conf': resolvConf(o.hostResolvConf, { ownNetns: o.mode !== 'host', nameservers: o.nameservers }),
  }
}

export const ownNames = (hostname: string, aliases: readonly string[]) => [hostname, ...aliases.filter((a) => a !== hostname)]

/** A small host file, read synchronously (~10 µs; it may change between containers). */
export function readHostFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
