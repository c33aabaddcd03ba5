import { PassThrough, type Readable } from 'node:stream'
import type { Logger } from '../lib/log.js'
import { SingleFlight } from '../lib/single-flight.js'
import type { ContentStore } from './content-store.js'
import { invalidManifest, layerCountMismatch, tooManyLayers, unsupportedMediaType } from './errors.js'
import { parseConfig, parseManifest, type Manifest } from './manifest.js'
import { layerCompression, type LayerCompression } from './media-types.js'
import { formatPlatform, selectManifest } from './platform.js'
import { formatReference, parseReference } from './reference.js'
import type { RegistryClient } from './registry/client.js'
import type { Descriptor, Digest, Platform, PullProgress, Reference } from './types.js'
import { Verifier } from './verify.js'

/** What pull needs from the snapshotter (src/images/snapshotter.ts). */
export interface LayerSnapshots {
  has(diffId: Digest): Promise<boolean>
  unpack(expectedDiffId: Digest, tar: Readable, opts?: { signal?: AbortSignal }): Promise<{ path: string; diffId: Digest; size: number }>
  remove(diffId: Digest): Promise<void>
}
export type Decompress = (input: Readable, c: LayerCompression, opts?: { maxBytes?: number }) => Readable

export interface PullLimits {
  maxLayers: number
  maxManifestBytes: number
  maxConfigBytes: number
  /** Compressed bytes per layer. */
  maxLayerBytes: number
  /** Decompressed bytes per layer (bomb guard, enforced by decompress). */
  maxUnpackedBytes: number
  /** Layers downloaded at once per pull. */
  parallelLayers: number
}
export const DEFAULT_LIMITS: PullLimits = {
  maxLayers: 128,
  maxManifestBytes: 4 << 20,
  maxConfigBytes: 4 << 20,
  maxLayerBytes: 8 * 1024 ** 3,
  maxUnpackedBytes: 32 * 1024 ** 3,
  parallelLayers: 4,
}

/** Refcounts of digests/diffIds held by in-flight work, so rollback and GC leave them alone
 *  (containerd's leases, in-process). */
export class Leases {
  readonly #n = new Map<string, number>()
  acquire(keys: Iterable<string>): () => void {
    const ks = [...new Set(keys)]
    for (const k of ks) this.#n.set(k, (this.#n.get(k) ?? 0) + 1)
    let done = false
    return () => {
      if (done) return
      done = true
      for (const k of ks) {
        const v = (this.#n.get(k) ?? 1) - 1
        if (v <= 0) this.#n.delete(k)
        else this.#n.set(k, v)
      }
    }
  }
  count(k: string): number {
    return this.#n.get(k) ?? 0
  }
  keys(): Set<string> {
    return new Set(this.#n.keys())
  }
}

export interface PullDeps {
  client: RegistryClient
  store: ContentStore
  snapshots: LayerSnapshots
  decompress: Decompress
  limits: PullLimits
  leases: Leases
  layerFlights: SingleFlight<Digest, LayerOutcome>
  /** Is this diffId referenced by a stored image? (rollback must not remove it) */
  layerKnown: (diffId: Digest) => boolean
  log?: Logger
}

export interface LayerOutcome {
  diffId: Digest
  unpackedSize: number
  downloaded: boolean
  /** This flight created the snapshot/blob (for rollback). */
  createdSnapshot: boolean
  createdBlob: boolean
}

export interface ResolvedImage {
  ref: Reference
  name: string
  manifestDigest: Digest
  manifestMediaType: string
  manifestBytes: Buffer
  manifest: Manifest
  configBytes: Buffer
  platform: Platform
}

/** Steps 1–3: reference → (index → platform manifest) → manifest → config. */
export async function resolveRemote(d: PullDeps, refStr: string, platform: Platform, signal?: AbortSignal): Promise<ResolvedImage> {
  const ref = parseReference(refStr)
  const name = formatReference(ref)
  let m = await d.client.getManifest(ref, { signal, maxBytes: d.limits.maxManifestBytes })
  let parsed = parseManifest(m.bytes, m.mediaType, `manifest ${name}`)
  if (parsed.kind === 'index') {
    const desc = selectManifest(parsed.index.manifests, platform)
    m = await d.client.getManifest(ref, { signal, maxBytes: d.limits.maxManifestBytes, digest: desc.digest })
    parsed = parseManifest(m.bytes, m.mediaType ?? desc.mediaType, `manifest ${name}@${desc.digest}`)
    if (parsed.kind !== 'manifest') throw invalidManifest(`manifest ${name}@${desc.digest}`, 'an index inside an index is not supported')
  }
  const manifest = parsed.manifest
  if (manifest.layers.length > d.limits.maxLayers) throw tooManyLayers(name, manifest.layers.length, d.limits.maxLayers)
  for (const l of manifest.layers) if (!layerCompression(l.mediaType)) throw unsupportedMediaType(`layer ${l.digest} of ${name}`, l.mediaType)
  // A config already in the content store was verified when it got there: no request.
  const configBytes = (await d.store.stat(manifest.config.digest))
    ? await d.store.readBytes(manifest.config.digest)
    : await d.client.getBlobBytes(ref, manifest.config, { signal, maxBytes: d.limits.maxConfigBytes })
  return { ref, name, manifestDigest: m.digest, manifestMediaType: parsed.mediaType, manifestBytes: m.bytes, manifest, configBytes, platform }
}

/** Download one layer: ONE HTTP stream → verifier → tee into (a) the content store and
 *  (b) decompress → snapshotter.unpack (which checks the diffId of the extracted bytes).
 *  The verifier fails in flush(), so neither side ever sees a clean end of bad bytes. */
export async function fetchLayer(d: PullDeps, ref: Reference, desc: Descriptor, diffId: Digest, opts: { signal?: AbortSignal; onBytes?: (n: number) => void }): Promise<LayerOutcome> {
  const haveSnap = await d.snapshots.has(diffId)
  const haveBlob = !!(await d.store.stat(desc.digest))
  if (haveSnap && haveBlob) return { diffId, unpackedSize: 0, downloaded: false, createdSnapshot: false, createdBlob: false }
  if (haveSnap) {
    // Unpacked already (another image with the same diff id in another compression, a
    // load, a blob removed as torn) but this blob is not stored: keep it anyway, so every
    // pulled image can be saved (save needs the exact compressed blob the manifest names).
    const body = await d.client.getBlob(ref, desc, { signal: opts.signal })
    await d.store.ingest(desc, body, { signal: opts.signal, onBytes: opts.onBytes })
    return { diffId, unpackedSize: 0, downloaded: true, createdSnapshot: false, createdBlob: true }
  }
  const compression = layerCompression(desc.mediaType)!
  const body = haveBlob ? d.store.read(desc.digest) : await d.client.getBlob(ref, desc, { signal: opts.signal })
  const verifier = new Verifier({ digest: desc.digest, size: desc.size, maxBytes: d.limits.maxLayerBytes, what: `layer ${desc.digest}` })
  const writer = haveBlob ? undefined : await d.store.writer(desc.digest)
  const toUnpack = new PassThrough({ highWaterMark: 1 << 20 })
  const fail = (e: Error) => {
    verifier.destroy(e)
    toUnpack.destroy(e)
    writer?.stream.destroy(e)
  }
  body.on('error', fail)
  // Errors reach the unpacker through its own pipeline while it reads; once it has finished
  // (or failed) nobody listens to toUnpack any more, and a late destroy(err) must not crash.
  toUnpack.on('error', () => {})
  verifier.on('error', (e) => {
    toUnpack.destroy(e)
    writer?.stream.destroy(e)
  })
  if (opts.onBytes) verifier.on('data', (c: Buffer) => opts.onBytes!(c.length))
  body.pipe(verifier)
  verifier.pipe(toUnpack)
  if (writer) {
    verifier.pipe(writer.stream)
    writer.stream.on('error', (e) => fail(e))
  }
  const onAbort = () => fail(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error('aborted'))
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  let unpacked: { size: number } | undefined
  try {
    const decompressed = d.decompress(toUnpack, compression, { maxBytes: d.limits.maxUnpackedBytes })
    decompressed.on('error', () => {}) // same reason as toUnpack: a late error after the unpacker is done
    const verified = new Promise<void>((resolve, reject) => {
      verifier.on('end', resolve)
      verifier.on('error', reject)
    })
    verified.catch(() => {})
    unpacked = await d.snapshots.unpack(diffId, decompressed, { signal: opts.signal })
    await verified
    if (writer) await writer.commit()
    return { diffId, unpackedSize: unpacked.size, downloaded: !haveBlob, createdSnapshot: true, createdBlob: !!writer }
  } catch (e) {
    fail(e as Error)
    await writer?.abort()
    if (unpacked && d.leases.count(diffId) <= 1 && !d.layerKnown(diffId)) await d.snapshots.remove(diffId).catch(() => {})
    throw e
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
  }
}

export interface PulledImage extends ResolvedImage {
  layers: { desc: Descriptor; diffId: Digest; outcome: LayerOutcome }[]
  config: ReturnType<typeof parseConfig>
}

/** The whole pull minus the database write; on failure removes what it created and no
 *  one else holds. Every digest it touches is leased for its duration. */
export async function pullImage(
  d: PullDeps,
  refStr: string,
  opts: { platform: Platform; signal?: AbortSignal; onProgress?: (p: PullProgress) => void },
  commit: (img: PulledImage) => void,
): Promise<PulledImage> {
  const r = await resolveRemote(d, refStr, opts.platform, opts.signal)
  const config = parseConfig(r.configBytes, `config of ${r.name}`)
  if (config.diffIds.length !== r.manifest.layers.length) throw layerCountMismatch(r.name, r.manifest.layers.length, config.diffIds.length)
  const layers = r.manifest.layers.map((desc, i) => ({ desc, diffId: config.diffIds[i]! }))
  const release = d.leases.acquire([r.manifestDigest, r.manifest.config.digest, ...layers.flatMap((l) => [l.desc.digest, l.diffId])])
  const created: { blobs: Digest[]; snapshots: Digest[] } = { blobs: [], snapshots: [] }
  try {
    const progress = (layer: Digest, state: PullProgress['state'], bytes: number, total: number) =>
      opts.onProgress?.({ ref: r.name, layer, state, bytes, total })
    for (const l of layers) progress(l.desc.digest, 'waiting', 0, l.desc.size)
    const outcomes = await mapLimit(layers, d.limits.parallelLayers, async (l) => {
      let bytes = 0
      let last = 0
      const o = await d.layerFlights.run(l.desc.digest, () =>
        fetchLayer(d, r.ref, l.desc, l.diffId, {
          signal: opts.signal,
          onBytes: (n) => {
            bytes += n
            if (bytes - last >= 1 << 20) {
              last = bytes
              progress(l.desc.digest, 'downloading', bytes, l.desc.size)
            }
          },
        }),
      )
      if (o.createdBlob) created.blobs.push(l.desc.digest)
      if (o.createdSnapshot) created.snapshots.push(l.diffId)
      progress(l.desc.digest, o.downloaded ? 'done' : 'exists', o.downloaded ? l.desc.size : 0, l.desc.size)
      return o
    })
    for (const [digest, bytes] of [
      [r.manifest.config.digest, r.configBytes],
      [r.manifestDigest, r.manifestBytes],
    ] as const) {
      if (!(await d.store.stat(digest))) {
        await d.store.putBytes({ mediaType: 'application/octet-stream', digest, size: bytes.length }, bytes)
        created.blobs.push(digest)
      }
    }
    const img: PulledImage = { ...r, config, layers: layers.map((l, i) => ({ ...l, outcome: outcomes[i]! })) }
    commit(img)
    d.log?.info({ ref: r.name, id: r.manifest.config.digest, platform: formatPlatform(config.platform), layers: layers.length }, 'image pulled')
    return img
  } catch (e) {
    // Roll back what this pull created, unless another pull holds it or an image row uses it.
    for (const s of created.snapshots) if (d.leases.count(s) <= 1 && !d.layerKnown(s)) await d.snapshots.remove(s).catch(() => {})
    for (const b of created.blobs) if (d.leases.count(b) <= 1) await d.store.delete(b).catch(() => {})
    throw e
  } finally {
    release()
  }
}

/** Run fn over items with at most `limit` at once; first rejection wins, but all started
 *  work is awaited before returning so rollback sees a quiet world. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  let firstErr: unknown
  const worker = async () => {
    while (next < items.length && firstErr === undefined) {
      const i = next++
      try {
        out[i] = await fn(items[i]!)
      } catch (e) {
        firstErr ??= e
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (firstErr !== undefined) throw firstErr
  return out
}
