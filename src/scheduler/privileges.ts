import { SkiffError } from '../lib/errors.js'
import { capsNotAllowed } from '../runtime/index.js'
import type { RunSpec } from './types.js'

/** What a job may ask for beyond the defaults, as the daemon's config allows it. */
export interface PrivilegePolicy {
  /** capabilities a job may add beyond the default set (normalized, e.g. CAP_NET_RAW; "ALL" allows any) */
  allowedCapabilities: readonly string[]
}

export const capabilityNotAllowed = (cap: string) =>
  new SkiffError(
    'permission_denied',
    'CAPABILITY_NOT_ALLOWED',
    `capAdd: ${cap} is beyond the default capability set and not in the daemon's allowedCapabilities (config "allowedCapabilities": ["${cap.replace(/^CAP_/, '')}"] or skiff daemon --allow-cap ${cap.replace(/^CAP_/, '')})`,
    { field: 'capAdd', detail: { capability: cap } },
  )

/** Pure: refuse (403, naming the first offending capability) a spec that asks
 *  for more than the defaults without the daemon's opt-in. Every later
 *  privilege (privileged, host pid/ipc, devices) gets its rule here too. */
export function checkPrivileges(spec: Pick<RunSpec, 'capAdd'>, policy: PrivilegePolicy): void {
  const refused = capsNotAllowed(spec.capAdd ?? [], policy.allowedCapabilities)
  if (refused.length) throw capabilityNotAllowed(refused[0]!)
}
