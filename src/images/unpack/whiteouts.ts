import { baseOf, parentOf } from './entry-name.js'
import { unsafeEntry } from './errors.js'

// AUFS-style whiteouts as the OCI image spec defines them (layer.md#whiteouts):
//   <dir>/.wh.<name>    deletes <dir>/<name> of lower layers
//   <dir>/.wh..wh..opq  hides every lower-layer child of <dir> (opaque directory)
// Other `.wh..wh.` names are AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs) and are
// skipped, as moby and containerd do. skiff stores layers in overlayfs form
// (https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories):
// a whiteout is a character device 0:0 named <name>; an opaque dir carries
// the xattr trusted.overlay.opaque=y.

export const WHITEOUT_PREFIX = '.wh.'
export const OPAQUE_MARKER = '.wh..wh..opq'
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque'

export type EntryAction =
  | { kind: 'write'; path: string }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; dir: string }
  | { kind: 'skip'; reason: string }

/** Classify a normalised entry name (see entry-name.ts). Pure. */
export function classifyEntry(name: string): EntryAction {
  const base = baseOf(name)
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'write', path: name }
  const dir = parentOf(name)
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir }
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: 'skip', reason: 'aufs metadata' }
  const target = base.slice(WHITEOUT_PREFIX.length)
  if (target === '' || target === '.' || target === '..') throw unsafeEntry(name, 'whiteout of an invalid name')
  return { kind: 'whiteout', path: dir === '.' ? target : `${dir}/${target}` }
}

/** Extended attributes from a tar entry that are applied to the snapshot.
 *  `trusted.overlay.*` / `user.overlay.*` are overlayfs' own control attributes
 *  (opaque, redirect, metacopy): a layer must not be able to set them, or it could
 *  make overlayfs reinterpret another layer; skiff writes the opaque flag itself. */
export function isAllowedXattr(name: string): boolean {
  return name.length > 0 && !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.')
}
