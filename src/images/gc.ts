import type { Digest } from './types.js'

// Mark and sweep, like containerd's gc.Tricolor but with a fixed two-level graph:
//   image (root unless pruned) ──▶ layer snapshots (diffIds) and blobs (manifest, config, layer blobs)
// Pure: the caller reads the world, this decides, the caller deletes.

export interface GcImage {
  id: Digest
  refs: readonly string[]
  diffIds: readonly Digest[]
  blobs: readonly Digest[]
}

export interface PrunePlan {
  images: Digest[]
  layers: Digest[]
  blobs: Digest[]
}

/** Decide what prune removes. Images: dangling ones (no refs), or all with `all`, but never
 *  one in `inUse`. Then every layer and blob no remaining image reaches, except `leased`
 *  (held by an in-flight pull). A layer of an image in `inUse` is always reachable. */
export function planPrune(
  world: { images: readonly GcImage[]; layers: readonly Digest[]; blobs: readonly Digest[] },
  opts: { inUse: ReadonlySet<string>; all?: boolean; leased?: ReadonlySet<string> },
): PrunePlan {
  const leased = opts.leased ?? new Set<string>()
  const removeImages = world.images.filter((i) => !opts.inUse.has(i.id) && (opts.all || i.refs.length === 0)).map((i) => i.id)
  const removed = new Set<string>(removeImages)
  const roots = world.images.filter((i) => !removed.has(i.id))
  return { images: removeImages, ...sweep(mark(roots), world, leased) }
}

/** Everything the roots reach. */
export function mark(roots: readonly GcImage[]): { layers: Set<Digest>; blobs: Set<Digest> } {
  const layers = new Set<Digest>()
  const blobs = new Set<Digest>()
  for (const r of roots) {
    r.diffIds.forEach((d) => layers.add(d))
    r.blobs.forEach((d) => blobs.add(d))
    blobs.add(r.id)
  }
  return { layers, blobs }
}

/** Everything present that is neither marked nor leased. */
export function sweep(
  marked: { layers: Set<Digest>; blobs: Set<Digest> },
  world: { layers: readonly Digest[]; blobs: readonly Digest[] },
  leased: ReadonlySet<string>,
): { layers: Digest[]; blobs: Digest[] } {
  return {
    layers: world.layers.filter((d) => !marked.layers.has(d) && !leased.has(d)),
    blobs: world.blobs.filter((d) => !marked.blobs.has(d) && !leased.has(d)),
  }
}
