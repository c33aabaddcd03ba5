import type { NetworkSpec } from '../types.js'

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
