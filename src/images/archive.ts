import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { extract, pack } from 'tar-stream'
import { invalidArchive } from './errors.js'
import { installLocal, peek, compressionOfMagic, type InstallDeps } from './install.js'
import { parseConfig, parseManifest } from './manifest.js'
import { MT } from './media-types.js'
import { selectManifest } from './platform.js'
import { normalizeReference } from './reference.js'
import type { Descriptor, Digest, ImageRecord } from './types.js'
import { Verifier, sha256, verifyBytes } from './verify.js'

// Offline images. Two archive formats are read (and one written that both tools accept):
//  - OCI image layout (image-spec image-layout.md): oci-layout, index.json, blobs/sha256/<hex>
//  - `docker save` (moby image/tarexport): manifest.json [{Config, RepoTags, Layers}],
//    layers as <id>/layer.tar (old) or blobs/sha256/<hex> (Docker 25+, OCI layout inside).
// `save` writes an OCI layout that also carries manifest.json, exactly like Docker 25+,
// so `docker load`, `podman load` and `skiff load` all accept it.

const MAX_META = 4 << 20

/** Stage an archive's regular files under `dir` (names checked: relative, no '..'). */
async function stage(input: Readable, dir: string): Promise<Set<string>> {
  const head = await peek(input, 4)
  const src = compressionOfMagic(head) === 'gzip' ? input.pipe(createGunzip()) : input
  const files = new Set<string>()
  const ex = extract()
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header
      const name = posix.normalize(h.name.replace(/^(\.\/)+/, ''))
      if (h.type !== 'file' || name.startsWith('/') || name === '..' || name.startsWith('../')) {
        if (h.type === 'file' || h.type === 'symlink' || h.type === 'link') {
          if (name.startsWith('/') || name.startsWith('../')) throw invalidArchive(`entry ${JSON.stringify(h.name)} escapes the archive`)
        }
        entry.resume()
        continue
      }
      const to = join(dir, name)
      await mkdir(dirname(to), { recursive: true })
      await pipeline(entry, createWriteStream(to))
      files.add(name)
    }
  })()
  const asArchiveError = (e: unknown) => {
    throw (e as { code?: string }).code === 'INVALID_ARCHIVE' ? e : invalidArchive(`not a tar archive (${(e as Error).message})`)
  }
  await Promise.all([pipeline(src, ex).catch(asArchiveError), done.catch(asArchiveError)])
  return files
}

async function readSmall(dir: string, name: string, files: Set<string>): Promise<Buffer> {
  if (!files.has(name)) throw invalidArchive(`missing ${name}`)
  if ((await stat(join(dir, name))).size > MAX_META) throw invalidArchive(`${name} is larger than ${MAX_META} bytes`)
  return readFile(join(dir, name))
}

const blobName = (d: string) => {
  if (!/^sha256:[a-f0-9]{64}$/.test(d)) throw invalidArchive(`invalid digest ${JSON.stringify(d)}`)
  return `blobs/sha256/${d.slice(7)}`
}

/** Import every image of an OCI layout or docker-save tar (optionally gzip). */
export async function loadArchive(d: InstallDeps, tmpRoot: string, input: Readable): Promise<ImageRecord[]> {
  await mkdir(tmpRoot, { recursive: true })
  const dir = await mkdtemp(join(tmpRoot, 'load-'))
  try {
    const files = await stage(input, dir)
    if (files.has('manifest.json')) return await loadDocker(d, dir, files)
    if (files.has('index.json')) return await loadOci(d, dir, files)
    throw invalidArchive('neither an OCI image layout (index.json) nor a docker save archive (manifest.json)')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function loadDocker(d: InstallDeps, dir: string, files: Set<string>): Promise<ImageRecord[]> {
  let entries: { Config?: string; RepoTags?: string[] | null; Layers?: string[] }[]
  try {
    entries = JSON.parse((await readSmall(dir, 'manifest.json', files)).toString('utf8'))
  } catch (e) {
    throw invalidArchive(`manifest.json: ${(e as Error).message}`)
  }
  if (!Array.isArray(entries)) throw invalidArchive('manifest.json is not an array')
  const out: ImageRecord[] = []
  for (const [i, e] of entries.entries()) {
    if (typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw invalidArchive(`manifest.json[${i}] lacks Config or Layers`)
    const configBytes = await readSmall(dir, posix.normalize(e.Config), files)
    parseConfig(configBytes, `manifest.json[${i}].Config`)
    const layers: Descriptor[] = []
    for (const l of e.Layers) {
      const name = posix.normalize(l)
      if (!files.has(name)) throw invalidArchive(`manifest.json[${i}] names missing layer ${JSON.stringify(l)}`)
      const p = join(dir, name)
      const fh = createReadStream(p, { start: 0, end: 3 })
      const head = await new Promise<Buffer>((res, rej) => {
        const bs: Buffer[] = []
        fh.on('data', (b) => bs.push(b as Buffer)).on('end', () => res(Buffer.concat(bs))).on('error', rej)
      })
      const c = compressionOfMagic(head)
      const { digest, size } = await d.store.ingestUnknown(createReadStream(p))
      layers.push({ mediaType: c === 'gzip' ? MT.dockerLayerGzip : c === 'zstd' ? MT.ociLayerZstd : MT.dockerLayer, digest, size })
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: layers.some((l) => l.mediaType === MT.ociLayerZstd) ? MT.ociManifest : MT.dockerManifest,
      config: { mediaType: MT.dockerConfig, digest: sha256(configBytes), size: configBytes.length },
      layers,
    }
    const manifestBytes = Buffer.from(JSON.stringify(manifest))
    const refs = (e.RepoTags ?? []).map((t) => normalizeReference(t))
    out.push(await installLocal(d, { manifestBytes, manifestDigest: sha256(manifestBytes), manifestMediaType: manifest.mediaType, configBytes, layers, refs }))
  }
  return out
}

async function loadOci(d: InstallDeps, dir: string, files: Set<string>): Promise<ImageRecord[]> {
  const top = parseManifest(await readSmall(dir, 'index.json', files), MT.ociIndex, 'index.json')
  if (top.kind !== 'index') throw invalidArchive('index.json is not an image index')
  const out: ImageRecord[] = []
  for (const desc of top.index.manifests) {
    const ann = desc.annotations ?? {}
    const name = ann['io.containerd.image.name'] ?? ann['org.opencontainers.image.ref.name']
    let refs: string[] = []
    if (name) {
      try {
        refs = [normalizeReference(name)]
      } catch {
        refs = [] // a bare tag ("latest") names no repository: load it untagged
      }
    }
    let mdesc: Descriptor = desc
    let bytes = await readSmall(dir, blobName(mdesc.digest), files)
    verifyBytes(bytes, { digest: mdesc.digest, size: mdesc.size })
    let parsed = parseManifest(bytes, mdesc.mediaType)
    if (parsed.kind === 'index') {
      mdesc = selectManifest(parsed.index.manifests, d.platform)
      bytes = await readSmall(dir, blobName(mdesc.digest), files)
      verifyBytes(bytes, { digest: mdesc.digest, size: mdesc.size })
      parsed = parseManifest(bytes, mdesc.mediaType)
      if (parsed.kind !== 'manifest') throw invalidArchive(`nested index ${mdesc.digest}`)
    }
    const m = parsed.manifest
    const configBytes = await readSmall(dir, blobName(m.config.digest), files)
    verifyBytes(configBytes, { digest: m.config.digest, size: m.config.size })
    for (const l of m.layers) {
      const n = blobName(l.digest)
      if (!files.has(n)) throw invalidArchive(`missing layer blob ${l.digest}`)
      await d.store.ingest(l, createReadStream(join(dir, n)))
    }
    out.push(await installLocal(d, { manifestBytes: bytes, manifestDigest: mdesc.digest, manifestMediaType: parsed.mediaType, configBytes, layers: m.layers, refs }))
  }
  return out
}

/** Write images as a tar that is both an OCI layout and a docker-save archive. */
export async function saveArchive(
  d: Pick<InstallDeps, 'store'>,
  images: { record: ImageRecord; refs: string[] }[],
  out: Writable,
): Promise<void> {
  const p = pack()
  const piped = pipeline(p, out)
  const mtime = new Date(0)
  const written = new Set<string>()
  const add = async (name: string, body: Buffer | { digest: Digest; size: number }) => {
    if (written.has(name)) return
    written.add(name)
    if (Buffer.isBuffer(body)) {
      await new Promise<void>((res, rej) => p.entry({ name, mode: 0o644, mtime }, body, (e) => (e ? rej(e) : res())))
      return
    }
    await new Promise<void>((res, rej) => {
      const entry = p.entry({ name, mode: 0o644, mtime, size: body.size }, (e) => (e ? rej(e) : res()))
      // Verified on the way: a blob torn by a power loss fails the save instead of
      // producing an archive that no one can load.
      pipeline(d.store.read(body.digest), new Verifier({ digest: body.digest, size: body.size }), entry).catch(rej)
    })
  }
  try {
    await add('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })))
    const index: Descriptor[] = []
    const dockerManifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = []
    for (const { record, refs } of images) {
      const mbytes = await d.store.readBytes(record.manifestDigest)
      const parsed = parseManifest(mbytes)
      if (parsed.kind !== 'manifest') throw invalidArchive(`stored manifest ${record.manifestDigest} is not an image manifest`)
      const m = parsed.manifest
      await add(blobName(record.manifestDigest), mbytes)
      await add(blobName(m.config.digest), await d.store.readBytes(m.config.digest))
      for (const l of m.layers) await add(blobName(l.digest), { digest: l.digest, size: l.size })
      const tags = refs.filter((r) => !r.includes('@'))
      const base = { mediaType: parsed.mediaType, digest: record.manifestDigest, size: mbytes.length }
      if (tags.length === 0) index.push(base)
      for (const t of tags) index.push({ ...base, annotations: { 'io.containerd.image.name': t, 'org.opencontainers.image.ref.name': t.slice(t.lastIndexOf(':') + 1) } })
      dockerManifest.push({ Config: blobName(m.config.digest), RepoTags: tags, Layers: m.layers.map((l) => blobName(l.digest)) })
    }
    await add('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: index })))
    await add('manifest.json', Buffer.from(JSON.stringify(dockerManifest)))
    p.finalize()
  } catch (e) {
    p.destroy(e as Error)
    await piped.catch(() => {})
    throw e
  }
  await piped
}

/** A rootfs tarball (optionally gzip) → a one-layer image, like `docker import`. */
export async function importRootfs(
  d: InstallDeps,
  input: Readable,
  opts: { ref: string; config?: Record<string, unknown>; platform: { os: string; architecture: string } },
): Promise<ImageRecord> {
  const ref = normalizeReference(opts.ref)
  const head = await peek(input, 4)
  const tar = compressionOfMagic(head) === 'gzip' ? input.pipe(createGunzip()) : input
  const { digest, size } = await d.store.ingestUnknown(tar)
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: opts.platform.architecture,
      os: opts.platform.os,
      created: new Date().toISOString(),
      config: opts.config ?? {},
      rootfs: { type: 'layers', diff_ids: [digest] },
      history: [{ created_by: 'skiff import', created: new Date().toISOString() }],
    }),
  )
  const cdigest = sha256(configBytes)
  await d.store.putBytes({ mediaType: MT.ociConfig, digest: cdigest, size: configBytes.length }, configBytes)
  const layer: Descriptor = { mediaType: MT.ociLayer, digest, size }
  const manifestBytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: cdigest, size: configBytes.length }, layers: [layer] }),
  )
  return installLocal(d, { manifestBytes, manifestDigest: sha256(manifestBytes), manifestMediaType: MT.ociManifest, configBytes, layers: [layer], refs: [ref] })
}

