import { closeSync, openSync } from 'node:fs'
import { exec } from '../../lib/exec.js'
import { unmountFs } from '../../lib/mount.js'
import { nativeWith } from '../../lib/native.js'
import { removeFile } from '../../lib/remove-tree.js'
import { SkiffError } from '../../lib/errors.js'

// A container's network namespace as a file (the `ip netns` way): a bind mount of
// nsfs keeps the namespace alive with no process in it, so CNI can wire it before
// the container exists and unwire it after the container is gone, also when the
// daemon restarted in between. Made by the addon on a pool thread (no fork on the
// start path); without the addon, by util-linux's unshare and iproute2.

export async function createNetns(path: string): Promise<void> {
  const sys = nativeWith('netns')
  try {
    if (sys?.netnsCreate) return await sys.netnsCreate(path)
    closeSync(openSync(path, 'wx', 0o444))
    await exec(['unshare', `--net=${path}`, 'true'])
    await exec(['nsenter', `--net=${path}`, 'ip', 'link', 'set', 'lo', 'up'])
  } catch (e) {
    await destroyNetns(path).catch(() => {})
    throw new SkiffError('internal', 'NETNS_FAILED', `create network namespace ${path}: ${(e as Error).message}`, { cause: e })
  }
}

/** Idempotent: unmount (detach) and unlink. The kernel frees the namespace, and
 *  the container end of every veth in it (whose host end goes with it), once
 *  nothing holds it any more. */
export async function destroyNetns(path: string): Promise<void> {
  await unmountFs(path, { lazy: true }).catch(() => false)
  await removeFile(path)
}
