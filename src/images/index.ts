import { setMaxListeners } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import type { Db } from '../db/open.js'
import { isSkiffError, noSpace, noSpaceCode, SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { SingleFlight } from '../lib/single-flight.js'
import { loadArchive, importRootfs as importRootfsArchive, saveArchive } from './archive.js'
import { ContentStore } from './content-store.js'
import { decompress as unpackDecompress } from './decompress.js'
import { aborted, imageInUse, noSuchImage, snapshotMissing } from './errors.js'
import { planPrune, type GcImage } from './gc.js'
import { ImageRepo } from './image-repo.js'
import type { InstallDeps } from './install.js'
import { parseManifest } from './manifest.js'
import { formatPlatform, parsePlatform } from './platform.js'
import { DEFAULT_LIMITS, Leases, pullImage, type Decompress, type LayerOutcome, type LayerSnapshots, type PullDeps, type PullLimits } from './pull.js'
import { normalizeReference, parseReference } from './reference.js'
import { RegistryClient } from './registry/client.js'
import { loadDockerConfig, mergeCredentials, type CredentialMap } from './registry/credentials.js'
import type { TransportOptions } from './registry/transport.js'
import { Snapshotter } from './snapshotter.js'
import type { Digest, ImageRecord, Platform, PullProgress } from './types.js'


/** A pull, load or import that found the data dir full: one typed error (507 NO_SPACE)
 *  naming what was being done, whatever layer of it (a blob, a snapshot, the database) hit it. */
function asNoSpace(what: string, e: unknown): unknown {
  if (isSkiffError(e, 'NO_SPACE')) return new SkiffError(e.kind, e.code, `${what}: ${e.message}`, { ...e.extra, cause: e })
  if (isSkiffError(e) || !noSpaceCode(e)) return e
  return noSpace(what, e)
}

export type { Descriptor, Digest, ImageConfig, ImageLayer, ImageRecord, Platform, PullProgress, Reference } from './types.js'
export { formatReference, normalizeReference, parseReference } from './reference.js'
export { formatPlatform, parsePlatform } from './platform.js'
export type { CredentialMap, RegistryCredential } from './registry/credentials.js'
export type { PullLimits } from './pull.js'
export { ContentStore } from './content-store.js'
export { RegistryClient } from './registry/client.js'

export interface PullOptions {
  platform?: Platform | string
  onProgress?: (p: PullProgress) => void
  signal?: AbortSignal
}

/** Images: pull from registries into a content store + per-layer snapshots, metadata in
 *  SQLite, offline load/save/import, and GC. `resolve`/`list` are synchronous (SQLite only). */
export interface ImageService {
  pull(ref: string, opts?: PullOptions): Promise<ImageRecord>
  /** By reference (normalized as docker does), by image id, or by a unique id prefix. */
  resolve(ref: string): ImageRecord | undefined
  list(): ImageRecord[]
  tag(src: string, dst: string): ImageRecord
  /** Untag `ref`; delete the image when no ref is left (or when `ref` is an id). */
  remove(ref: string, opts?: { force?: boolean }): Promise<{ untagged: string[]; deleted: Digest[] }>
  /** Remove dangling images (all unused ones with `all`), then every layer/blob no image uses.
   *  Never touches an image in `inUse` or its layers. */
  prune(opts: { inUse: ReadonlySet<string>; all?: boolean }): Promise<{ images: number; layers: number; bytes: number }>
  /** Snapshot dirs, top layer first, as overlayfs lowerdir wants. */
  lowerDirs(image: ImageRecord): Promise<string[]>
  load(body: Readable): Promise<ImageRecord[]>
  save(refs: string[], out: Writable): Promise<void>
  importRootfs(body: Readable, opts: { ref: string; config?: Record<string, unknown> }): Promise<ImageRecord>
  close(): Promise<void>
}

export interface ImageServiceOptions {
  db: Db
  /** e.g. <dataDir>/images; holds content/, snapshots/, tmp/. */
  root: string
  registries?: { insecure?: string[]; auth?: CredentialMap; dockerConfig?: string | false; transport?: TransportOptions; retries?: number }
  /** Shorthand used by the daemon's config. */
  insecureRegistries?: string[]
  platform?: Platform | string
  limits?: Partial<PullLimits>
  log?: Logger
  /** Test seams; default to the real snapshotter and decompressor. */
  snapshots?: LayerSnapshots & { path(diffId: Digest): Promise<string | undefined>; list(): Promise<Digest[]> }
  decompress?: Decompress
  /** fsync each blob and syncfs each snapshot before publishing (default false: torn
   *  blobs are found by digest after an unclean reboot, see content-store.ts). */
  durable?: boolean
}

const hostPlatform = (): Platform => ({ os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch })

export function createImageService(o: ImageServiceOptions): ImageService & {
  readonly client: RegistryClient
  readonly store: ContentStore
  readonly snapshots: NonNullable<ImageServiceOptions['snapshots']>
} {
  const platform = typeof o.platform === 'string' ? parsePlatform(o.platform) : (o.platform ?? hostPlatform())
  const limits = { ...DEFAULT_LIMITS, ...o.limits }
  const store = new ContentStore(join(o.root, 'content'), { durable: o.durable })
  const snapshots = o.snapshots ?? new Snapshotter({ root: join(o.root, 'snapshots'), durable: o.durable })
  const tmpRoot = join(o.root, 'tmp')
  const repo = new ImageRepo(o.db)
  const leases = new Leases()
  const insecure = [...(o.registries?.insecure ?? []), ...(o.insecureRegistries ?? [])]
  let credentials: CredentialMap = o.registries?.auth ?? {}
  const client = new RegistryClient({ insecure, credentials, transport: o.registries?.transport, retries: o.registries?.retries })
  const decompress: Decompress = o.decompress ?? unpackDecompress
  const ready = (async () => {
    await store.init()
    if (store.recovered.length) o.log?.warn({ blobs: store.recovered }, 'removed blobs torn by an unclean shutdown; pull again to restore them')
    await store.sweepTemp()
    await mkdir(tmpRoot, { recursive: true })
    if (o.registries?.dockerConfig !== false) {
      const fromDocker = await loadDockerConfig(o.registries?.dockerConfig || undefined).catch((e) => {
        o.log?.warn({ err: e }, 'ignoring unreadable docker config.json')
        return {}
      })
      credentials = mergeCredentials(o.registries?.auth, fromDocker)
      Object.assign(client.auth.credentials, credentials)
    }
  })()
  ready.catch(() => {})
  const pullDeps: PullDeps = {
    client, store, snapshots, decompress, limits, leases,
    layerFlights: new SingleFlight<Digest, LayerOutcome>(),
    layerKnown: (d) => repo.layerInUse(d),
    log: o.log,
  }
  const installDeps: InstallDeps = { store, snapshots, decompress, repo, leases, platform, maxUnpackedBytes: limits.maxUnpackedBytes, log: o.log }

  // One flight per (ref, platform); every caller gets progress, and the flight is aborted
  // only when every caller has given up.
  const flights = new Map<string, { promise: Promise<ImageRecord>; listeners: Set<(p: PullProgress) => void>; waiters: number; ac: AbortController }>()

  function resolve(ref: string): ImageRecord | undefined {
    const s = ref.trim()
    try {
      const r = parseReference(s)
      const id = repo.idByRef(normalizeReference(s))
      if (id) return repo.get(id)
      if (r.digest) {
        const ids = repo.idsByManifest(r.digest)
        if (ids.length === 1) return repo.get(ids[0]!)
      }
    } catch {
      /* not a reference: maybe an id */
    }
    const m = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(s)
    if (m) {
      const ids = repo.idsByPrefix(m[1]!)
      if (ids.length === 1) return repo.get(ids[0]!)
    }
    return undefined
  }

  async function world(): Promise<{ images: GcImage[]; layers: Digest[]; blobs: Digest[] }> {
    const images: GcImage[] = []
    for (const id of repo.ids()) {
      const rec = repo.get(id)!
      const blobs = new Set<Digest>([rec.manifestDigest, ...rec.layers.map((l) => l.digest)])
      try {
        const p = parseManifest(await store.readBytes(rec.manifestDigest))
        if (p.kind === 'manifest') p.manifest.layers.forEach((l) => blobs.add(l.digest))
      } catch {
        /* manifest blob missing: the layers table is all we know */
      }
      images.push({ id, refs: rec.refs, diffIds: rec.layers.map((l) => l.diffId), blobs: [...blobs] })
    }
    const layers = new Set<Digest>([...(await snapshots.list()), ...repo.allLayers().map((l) => l.diffId)])
    const blobs: Digest[] = []
    for await (const b of store.list()) blobs.push(b)
    return { images, layers: [...layers], blobs }
  }

  async function collect(inUse: ReadonlySet<string>, all: boolean, onlyImages?: Digest[]) {
    const w = await world()
    const plan = planPrune(w, { inUse, all, leased: leases.keys() })
    const images = onlyImages ?? plan.images
    // Recompute reachability after the image rows go (onlyImages: remove() already deleted them).
    for (const id of plan.images) if (!onlyImages) repo.deleteImage(id)
    const after = onlyImages ? plan : planPrune(await world(), { inUse, all, leased: leases.keys() })
    let bytes = 0
    const sizes = new Map(repo.allLayers().map((l) => [l.diffId, l.unpackedSize]))
    for (const l of after.layers) {
      if (leases.count(l) > 0 || repo.layerInUse(l)) continue
      await snapshots.remove(l)
      bytes += sizes.get(l) ?? 0
    }
    repo.deleteLayers(after.layers.filter((l) => !repo.layerInUse(l)))
    for (const b of after.blobs) {
      if (leases.count(b) > 0) continue
      bytes += (await store.stat(b))?.size ?? 0
      await store.delete(b)
    }
    return { images: images.length, layers: after.layers.length, bytes }
  }

  const svc = {
    client,
    store,
    snapshots,
    async pull(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
      await ready
      const name = normalizeReference(ref)
      const plat = typeof opts.platform === 'string' ? parsePlatform(opts.platform) : (opts.platform ?? platform)
      const key = `${name}|${formatPlatform(plat)}`
      let f = flights.get(key)
      if (!f) {
        const ac = new AbortController()
        setMaxListeners(0, ac.signal) // one listener per layer request/unpack of this pull
        const listeners = new Set<(p: PullProgress) => void>()
        const promise = (async () => {
          try {
            const img = await pullImage(pullDeps, name, { platform: plat, signal: ac.signal, onProgress: (p) => listeners.forEach((l) => l(p)) }, (img) =>
              repo.save({
                id: img.manifest.config.digest,
                manifestDigest: img.manifestDigest,
                manifestMediaType: img.manifestMediaType,
                configJson: img.configBytes.toString('utf8'),
                platform: formatPlatform(img.config.platform.os ? img.config.platform : plat),
                layers: img.layers.map((l) => ({ diffId: l.diffId, digest: l.desc.digest, size: l.desc.size, mediaType: l.desc.mediaType, unpackedSize: l.outcome.unpackedSize })),
                refs: [name],
                createdAt: new Date(),
              }),
            )
            return repo.get(img.manifest.config.digest)!
          } catch (e) {
            throw asNoSpace(`pull ${name}`, e)
          } finally {
            flights.delete(key)
          }
        })()
        f = { promise, listeners, waiters: 0, ac }
        flights.set(key, f)
      }
      const flight = f
      flight.waiters++
      if (opts.onProgress) flight.listeners.add(opts.onProgress)
      const signal = opts.signal
      try {
        if (!signal) return await flight.promise
        if (signal.aborted) throw aborted(`pull ${name}`)
        let onAbort = () => {}
        const gaveUp = new Promise<never>((_, rej) => {
          onAbort = () => rej(aborted(`pull ${name}`))
          signal.addEventListener('abort', onAbort, { once: true })
        })
        try {
          return await Promise.race([flight.promise, gaveUp])
        } catch (e) {
          // The last caller to give up cancels the pull and waits for its rollback, so a
          // rejected pull() has left nothing behind.
          if (signal.aborted && flight.waiters === 1) {
            flight.ac.abort(aborted(`pull ${name}`))
            await flight.promise.catch(() => {})
          }
          throw e
        } finally {
          signal.removeEventListener('abort', onAbort)
        }
      } finally {
        flight.waiters--
        if (opts.onProgress) flight.listeners.delete(opts.onProgress)
      }
    },
    resolve,
    list: () => repo.list(),
    tag(src: string, dst: string): ImageRecord {
      const img = resolve(src)
      if (!img) throw noSuchImage(src)
      repo.setRef(normalizeReference(dst), img.id)
      return repo.get(img.id)!
    },
    async remove(ref: string, opts: { force?: boolean } = {}) {
      await ready
      const img = resolve(ref)
      if (!img) throw noSuchImage(ref)
      let byName: string | undefined
      try {
        byName = normalizeReference(ref)
      } catch {
        byName = undefined
      }
      if (byName && img.refs.includes(byName) && img.refs.length > 1 && !opts.force) {
        repo.deleteRef(byName)
        return { untagged: [byName], deleted: [] }
      }
      if (img.refs.length > 1 && !opts.force && !(byName && img.refs.includes(byName)))
        throw imageInUse(ref, `referenced by ${img.refs.length} names (${img.refs.join(', ')}); remove them by name or use force`)
      repo.deleteImage(img.id)
      await collect(new Set(), false, [img.id])
      return { untagged: img.refs, deleted: [img.id] }
    },
    async prune(opts: { inUse: ReadonlySet<string>; all?: boolean }) {
      await ready
      return collect(opts.inUse, !!opts.all)
    },
    async lowerDirs(image: ImageRecord): Promise<string[]> {
      const out: string[] = []
      for (const l of [...image.layers].reverse()) {
        const p = await snapshots.path(l.diffId)
        if (!p) throw snapshotMissing(image.refs[0] ?? image.id, l.diffId)
        out.push(p)
      }
      return out
    },
    async load(body: Readable): Promise<ImageRecord[]> {
      await ready
      return loadArchive(installDeps, tmpRoot, body).catch((e) => Promise.reject(asNoSpace('load', e)))
    },
    async save(refs: string[], out: Writable): Promise<void> {
      await ready
      const imgs = refs.map((r) => {
        const rec = resolve(r)
        if (!rec) throw noSuchImage(r)
        let name: string | undefined
        try {
          name = normalizeReference(r)
        } catch {
          name = undefined
        }
        return { record: rec, refs: name && rec.refs.includes(name) ? [name] : rec.refs }
      })
      await saveArchive({ store }, imgs, out)
    },
    async importRootfs(body: Readable, opts: { ref: string; config?: Record<string, unknown> }): Promise<ImageRecord> {
      await ready
      return importRootfsArchive(installDeps, body, { ...opts, platform }).catch((e) => Promise.reject(asNoSpace(`import ${opts.ref}`, e)))
    },
    async close() {
      await client.close()
      await ready.catch(() => {})
      await store.close().catch((e) => o.log?.warn({ err: e }, 'content store: clean shutdown not recorded'))
    },
  }
  return svc
}
