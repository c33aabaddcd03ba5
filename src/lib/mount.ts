import { exec } from './exec.js'
import { SkiffError } from './errors.js'
import { nativeSys } from './native.js'

// mount(2)/umount2(2) through the N-API addon (lib/native.ts), on the thread
// pool: spawning mount(8) forks the whole Node process, which costs milliseconds
// of main-thread time per job. Falls back to the tools without the addon.
export const MNT_DETACH = 2

export function nativeMountAvailable(): boolean {
  return nativeSys() !== undefined
}

export async function mountFs(o: { source: string; target: string; type: string; options: string }): Promise<void> {
  const s = nativeSys()
  if (s) {
    try {
      await s.mount(o.source, o.target, o.type, 0, o.options)
      return
    } catch (e) {
      throw new SkiffError('internal', 'MOUNT_FAILED', `mount -t ${o.type} ${o.target}: ${(e as Error).message}`, { cause: e })
    }
  }
  await exec(['mount', '-t', o.type, o.source, '-o', o.options, o.target], { errorCode: 'MOUNT_FAILED' })
}

/** Unmount; `lazy` detaches a busy mount. Resolves false if nothing was mounted there. */
export async function unmountFs(target: string, opts: { lazy?: boolean } = {}): Promise<boolean> {
  const s = nativeSys()
  if (s) {
    try {
      await s.umount2(target, opts.lazy ? MNT_DETACH : 0)
      return true
    } catch (e) {
      const code = (e as { code?: string }).code
      if (code === 'EINVAL' || code === 'ENOENT') return false
      throw new SkiffError('internal', 'UMOUNT_FAILED', `umount ${target}: ${(e as Error).message}`, { cause: e, detail: { code } })
    }
  }
  const r = await exec(['umount', ...(opts.lazy ? ['-l'] : []), target], { allowFailure: true })
  if (r.code === 0) return true
  if (/not mounted|no mount point|not found/i.test(r.stderr)) return false
  throw new SkiffError('internal', 'UMOUNT_FAILED', `umount ${target}: ${r.stderr.trim()}`, { detail: { code: 'EBUSY' } })
}
