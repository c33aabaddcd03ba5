import { chmodSync, mkdirSync } from 'node:fs'
import { diskLimitUnavailable, ensureLimitedLayer } from './disk-quota.js'
import { lstat, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { badLayerPath, noLayers } from './errors.js'
import { mountFs, unmountFs } from '../lib/mount.js'
import { removeTree } from '../lib/remove-tree.js'

/** Pure: overlayfs mount options. lowerDirs top layer first, as overlayfs wants. */
export function overlayOptions(lowerDirs: readonly string[], upper: string, work: string): string {
  if (!lowerDirs.length) throw noLayers()
  for (const d of [...lowerDirs, upper, work]) if (/[,:]/.test(d)) throw badLayerPath(d)
  // index=off: upper dirs are throwaway (or reused by one container at a time); no need to track hardlink origins across mounts.
  return `lowerdir=${lowerDirs.join(':')},upperdir=${upper},workdir=${work},index=off`
}

export interface Rootfs {
  merged: string
  dir: string
}

/** Mount `<bundle>/merged` as an overlay of the image layers. The writable layer
 *  (upper/ + work/, same filesystem as overlayfs requires) is fresh inside the
 *  bundle, or in the caller's `layerDir`, created if missing and kept across
 *  containers. */
export async function mountRootfs(bundle: string, r: { lowerDirs: readonly string[]; layerDir?: string; diskBytes?: number }): Promise<Rootfs> {
  const layer = r.layerDir ?? bundle
  const upper = join(layer, 'upper')
  const work = join(layer, 'work')
  const merged = join(bundle, 'merged')
  // `bundle` is new and empty: plain mkdirs (~15 µs each, synchronous: cheaper than
  // three thread-pool round trips on the job start path)
  // upper/ is the root directory the container sees (overlayfs takes the merged
  // root's mode from it): 0755 like an image's /, or non-root users could not
  // traverse /. The layer dir around it stays private to root.
  if (r.diskBytes !== undefined) {
    // the limit is on the layer dir (a btrfs subvolume): only a caller-owned one has a life of its own to limit
    if (!r.layerDir) throw diskLimitUnavailable('needs a writable layer of its own (rootfs.layerDir)')
    await ensureLimitedLayer(r.layerDir, r.diskBytes)
    chmodSync(r.layerDir, 0o700)
  }
  if (r.layerDir) {
    mkdirSync(r.layerDir, { recursive: true, mode: 0o700 })
    mkdirSync(upper, { recursive: true, mode: 0o755 })
    mkdirSync(work, { recursive: true, mode: 0o700 })
  }
  else for (const d of [upper, work]) mkdirSync(d)
  mkdirSync(merged)
  await mountFs({ source: 'overlay', target: merged, type: 'overlay', options: overlayOptions(r.lowerDirs, upper, work) })
  return { merged, dir: bundle }
}

/** `lazy` detaches at once and lets the kernel finish the teardown: right for a
 *  container with no process left, and it keeps a synchronous umount2 (≈2 ms for
 *  an overlay) off the daemon's event loop. */
export async function unmountRootfs(merged: string, opts: { lazy?: boolean } = {}): Promise<void> {
  try {
    await unmountFs(merged, opts)
  } catch {
    // Busy (a straggler process still holds it): detach lazily rather than leak it.
    await unmountFs(merged, { lazy: true }).catch(() => false)
  }
}

export async function removeDir(dir: string): Promise<void> {
  await removeTree(dir)
}

/** Read a small file from the rootfs without following a symlink out of it:
 *  a hostile image's /etc/passwd could point at the host's files. */
export async function readInRoot(rootfs: string, rel: string): Promise<string | undefined> {
  const p = join(rootfs, rel)
  try {
    const st = await lstat(p)
    if (!st.isFile() || st.size > 4 * 1024 * 1024) return undefined
    return await readFile(p, 'utf8')
  } catch {
    return undefined
  }
}

/** The image's /etc/passwd and /etc/group, read once per layer stack: layer
 *  snapshots never change, so neither do they. (A reused writable layer could
 *  edit them; like docker, the user is resolved against the image's files.) */
export class UserFiles {
  readonly #cache = new Map<string, Promise<[string | undefined, string | undefined]>>()

  get(lowerDirs: readonly string[], merged: string): Promise<[string | undefined, string | undefined]> {
    const key = lowerDirs.join(':')
    let files = this.#cache.get(key)
    if (!files) {
      files = Promise.all([readInRoot(merged, 'etc/passwd'), readInRoot(merged, 'etc/group')])
      this.#cache.set(key, files)
      if (this.#cache.size > 256) this.#cache.delete(this.#cache.keys().next().value!)
    }
    return files
  }
}
