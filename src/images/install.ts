import { once } from 'node:events'
import { Readable } from 'node:stream'
import type { Logger } from '../lib/log.js'
import type { ContentStore } from './content-store.js'
import type { ImageRepo } from './image-repo.js'
import { layerCountMismatch } from './errors.js'
import { layerCompression } from './media-types.js'
import { parseConfig } from './manifest.js'
import { formatPlatform } from './platform.js'
import type { Decompress, LayerSnapshots, Leases } from './pull.js'
import type { Descriptor, Digest, ImageRecord, Platform } from './types.js'

export interface InstallDeps {
  store: ContentStore
  snapshots: LayerSnapshots
  decompress: Decompress
  repo: ImageRepo
  leases: Leases
  platform: Platform
  maxUnpackedBytes: number
  log?: Logger
}

export interface LocalImage {
  manifestBytes: Buffer
  manifestDigest: Digest
  manifestMediaType: string
  configBytes: Buffer
  /** Layer blobs must already be in the content store (verified). */
  layers: Descriptor[]
  refs: string[]
}

/** Install an image whose blobs are already in the content store: unpack missing snapshots
 *  from the stored blobs, store config + manifest, write the rows. On failure, removes the
 *  snapshots it created that no image row uses and no one else holds. */
export async function installLocal(d: InstallDeps, img: LocalImage): Promise<ImageRecord> {
  const cfg = parseConfig(img.configBytes)
  const id = (await d.store.ingestUnknown(Readable.from([img.configBytes]))).digest
  if (cfg.diffIds.length !== img.layers.length) {
    throw layerCountMismatch(img.refs[0] ?? id, img.layers.length, cfg.diffIds.length)
  }
  const release = d.leases.acquire([id, img.manifestDigest, ...img.layers.map((l) => l.digest), ...cfg.diffIds])
  const created: Digest[] = []
  try {
    for (const [i, l] of img.layers.entries()) {
      const diffId = cfg.diffIds[i]!
      if (await d.snapshots.has(diffId)) continue
      const c = layerCompression(l.mediaType) ?? 'none'
      const tar = d.decompress(d.store.read(l.digest), c, { maxBytes: d.maxUnpackedBytes })
      tar.on('error', () => {}) // the unpacker sees errors through its own listener while it reads
      await d.snapshots.unpack(diffId, tar)
      created.push(diffId)
    }
    if (!(await d.store.stat(img.manifestDigest)))
      await d.store.putBytes({ mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifestBytes.length }, img.manifestBytes)
    const unpacked = new Map(d.repo.allLayers().map((l) => [l.diffId, l.unpackedSize]))
    d.repo.save({
      id,
      manifestDigest: img.manifestDigest,
      manifestMediaType: img.manifestMediaType,
      configJson: img.configBytes.toString('utf8'),
      platform: formatPlatform(cfg.platform.os ? cfg.platform : d.platform),
      layers: img.layers.map((l, i) => ({ diffId: cfg.diffIds[i]!, digest: l.digest, size: l.size, mediaType: l.mediaType, unpackedSize: unpacked.get(cfg.diffIds[i]!) ?? 0 })),
      refs: img.refs,
      createdAt: new Date(),
    })
    return d.repo.get(id)!
  } catch (e) {
    for (const s of created) if (d.leases.count(s) <= 1 && !d.repo.layerInUse(s)) await d.snapshots.remove(s).catch(() => {})
    throw e
  } finally {
    release()
  }
}

/** Look at the first bytes of a stream without consuming them. */
export async function peek(input: Readable, n: number): Promise<Buffer> {
  for (;;) {
    const c = input.read() as Buffer | null
    if (c) {
      input.unshift(c)
      return c.subarray(0, n)
    }
    if (input.readableEnded) return Buffer.alloc(0)
    await Promise.race([once(input, 'readable'), once(input, 'end')])
  }
}

export function compressionOfMagic(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd'
  return 'none'
}
