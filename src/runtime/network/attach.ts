import { readFileSync } from 'node:fs'
import type { NetworkSpec } from '../types.js'
import { hostnameFile, hostsFile, resolvConf } from './etc-files.js'

/** What a container's network comes to in its OCI spec. */
export interface NetworkAttachment {
  mode: NetworkSpec['mode']
  /** a network namespace prepared before create (bridge); absent: the runtime makes a fresh one (none) or none at all (host) */
  netnsPath?: string
}

/** The network step of create: none and host need nothing made ahead of the
 *  container (no fork, no syscall); the OCI runtime makes or skips the netns. */
export async function attachNetwork(spec: NetworkSpec): Promise<NetworkAttachment> {
  return { mode: spec.mode }
}

/** Pure: the files bound over the image's /etc/hostname, /etc/hosts and /etc/resolv.conf. */
export function etcFiles(o: { hostname: string; aliases: string[]; ips: string[]; mode: NetworkSpec['mode']; hostResolvConf: string | undefined; nameservers?: string[] }): Record<'hostname' | 'hosts' | 'resolv.conf', string> {
  return {
    hostname: hostnameFile(o.hostname),
    hosts: hostsFile({ names: [o.hostname, ...o.aliases.filter((a) => a !== o.hostname)], ips: o.ips }),
    'resolv.conf': resolvConf(o.hostResolvConf, { ownNetns: o.mode !== 'host', nameservers: o.nameservers }),
  }
}

/** A small host file, read synchronously (~10 µs; it may change between containers). */
export function readHostFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}
