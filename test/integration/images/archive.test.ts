import { execFileSync } from 'node:child_process'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { extract } from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { busyboxRootfs, image, layerFromTar, pushImage, seed, type FixtureSet } from '../../fixtures/images.js'
import { buildTar, dir, file as tfile } from '../../fixtures/tar.js'
import { startRegistry, type TestRegistry } from '../../helpers/registry.js'
import { tmpService, withMerged } from './helpers.js'

// Offline images: import a rootfs, save, load back; load archives written by skopeo (a third
// party) in both docker-archive and oci-archive form; check skopeo reads what skiff saves.
let reg: TestRegistry
let f: FixtureSet
let work: string
beforeAll(async () => {
  reg = await startRegistry()
  f = await seed(reg)
  work = mkdtempSync(join(tmpdir(), 'skiff-archive-'))
})
afterAll(async () => {
  await reg?.stop()
  rmSync(work, { recursive: true, force: true })
})

async function tarNames(file: string): Promise<string[]> {
  const names: string[] = []
  const ex = extract()
  ex.on('entry', (h, s, next) => {
    names.push(h.name)
    s.resume()
    s.on('end', next)
  })
  await new Promise<void>((res, rej) => createReadStream(file).pipe(ex).on('finish', res).on('error', rej))
  return names
}
const skopeo = (...args: string[]) => execFileSync('skopeo', ['--tmpdir', work, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

describe('import, save, load', () => {
  it('imports a busybox rootfs tarball (gzip) as a one-layer image that runs', async () => {
    const t = tmpService()
    try {
      const tar = gzipSync(await buildTar(busyboxRootfs()))
      const img = await t.svc.importRootfs(Readable.from([tar]), { ref: 'skiff/busybox:test', config: { Cmd: ['/bin/sh'] } })
      expect(img.refs).toEqual(['docker.io/skiff/busybox:test'])
      expect(img.layers).toHaveLength(1)
      expect(img.config.Cmd).toEqual(['/bin/sh'])
      expect(t.svc.resolve('skiff/busybox:test')?.id).toBe(img.id)
      expect(t.svc.resolve(img.id.slice(7, 19))?.id).toBe(img.id) // id prefix
      await withMerged(await t.svc.lowerDirs(img), (root) => {
        expect(execFileSync('chroot', [root, '/bin/busybox', 'echo', 'hello from import'], { encoding: 'utf8' })).toBe('hello from import\n')
      })
    } finally {
      await t.dispose()
    }
  })

  it('save writes an archive skopeo reads as both docker-archive and oci-archive; load restores the same image', async () => {
    const a = tmpService({}, reg)
    const b = tmpService()
    try {
      const img = await a.svc.pull(`${reg.host}/fixtures/multi`)
      const file = join(work, 'saved.tar')
      await a.svc.save([`${reg.host}/fixtures/multi`], createWriteStream(file))
      const names = await tarNames(file)
      expect(names).toEqual(expect.arrayContaining(['oci-layout', 'index.json', 'manifest.json', `blobs/sha256/${img.id.slice(7)}`]))
      const docker = JSON.parse(skopeo('inspect', '--config', `docker-archive:${file}`))
      expect(docker.rootfs.diff_ids).toEqual(f.multi.layers.map((l) => l.diffId))
      const oci = JSON.parse(skopeo('inspect', `oci-archive:${file}`))
      expect(oci.Layers).toEqual(f.multi.layers.map((l) => l.digest))
      const loaded = await b.svc.load(createReadStream(file))
      expect(loaded.map((i) => i.id)).toEqual([img.id])
      expect(loaded[0]!.refs).toEqual([`${reg.host}/fixtures/multi:latest`])
      await withMerged(await b.svc.lowerDirs(loaded[0]!), async (root) => {
        expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('top layer\n')
        expect((await stat(join(root, 'usr/bin/su-like'))).mode & 0o7777).toBe(0o4755)
      })
    } finally {
      await a.dispose()
      await b.dispose()
    }
  })

  it('saves an image whose layer was already unpacked from another blob (same diff id, other compression)', async () => {
    const a = tmpService({}, reg)
    const b = tmpService()
    try {
      const tar = await buildTar([dir('data'), tfile('data/shared.txt', 'same layer, two compressions\n')])
      const gz = await layerFromTar(tar, 'gzip')
      const zs = await layerFromTar(tar, 'zstd')
      expect(gz.diffId).toBe(zs.diffId)
      await pushImage(reg, 'fixtures/shared-gz', 'latest', image([gz]))
      const zimg = image([zs], { config: { Cmd: ['zstd'] } })
      await pushImage(reg, 'fixtures/shared-zstd', 'latest', zimg)
      await a.svc.pull(`${reg.host}/fixtures/shared-gz`)
      // The snapshot exists now: the second pull unpacks nothing but must keep its own blob.
      const img = await a.svc.pull(`${reg.host}/fixtures/shared-zstd`)
      expect((await a.svc.store.stat(zs.digest))?.size).toBe(zs.blob.length)
      const out = join(work, 'shared-zstd.tar')
      await a.svc.save([`${reg.host}/fixtures/shared-zstd`], createWriteStream(out))
      expect(await tarNames(out)).toContain(`blobs/sha256/${zs.digest.slice(7)}`)
      const loaded = await b.svc.load(createReadStream(out))
      expect(loaded.map((i) => i.id)).toEqual([img.id])
      await withMerged(await b.svc.lowerDirs(loaded[0]!), async (root) => {
        expect(await readFile(join(root, 'data/shared.txt'), 'utf8')).toBe('same layer, two compressions\n')
      })
    } finally {
      await a.dispose()
      await b.dispose()
    }
  })

  it('save fails (DIGEST_MISMATCH) on a blob torn after it was stored instead of writing a broken archive', async () => {
    const a = tmpService({}, reg)
    try {
      await a.svc.pull(`${reg.host}/fixtures/multi`)
      const l = f.multi.layers[0]!
      writeFileSync(a.svc.store.path(l.digest), Buffer.alloc(l.blob.length)) // same size, zeroed: a torn write
      await expect(a.svc.save([`${reg.host}/fixtures/multi`], createWriteStream(join(work, 'torn.tar')))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' })
    } finally {
      await a.dispose()
    }
  })

  it.each([
    ['docker-archive', 'docker-archive', false],
    ['docker-archive, gzip', 'docker-archive', true],
    ['oci-archive', 'oci-archive', false],
  ])('loads a %s written by skopeo', async (_n, kind, gz) => {
    const t = tmpService()
    try {
      const file = join(work, `${kind}-${gz}.tar`)
      rmSync(file, { force: true })
      // skopeo's docker-archive cannot carry zstd layers: use the schema2 (gzip) fixture there
      const [repo, want] = kind === 'docker-archive' ? ['schema2', f.schema2] : ['multi', f.multi]
      skopeo('copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/fixtures/${repo}:latest`, `${kind}:${file}:fixtures/${repo}:v1`)
      if (gz) writeFileSync(file, gzipSync(readFileSync(file)))
      const imgs = await t.svc.load(createReadStream(file))
      expect(imgs).toHaveLength(1)
      expect(imgs[0]!.id).toBe(want.configDigest)
      if (kind === 'docker-archive') expect(imgs[0]!.refs).toEqual(['docker.io/fixtures/schema2:v1'])
      await withMerged(await t.svc.lowerDirs(imgs[0]!), async (root) => {
        expect(await stat(join(root, 'bin/busybox-hardlink'))).toMatchObject({ nlink: 2 })
        if (repo === 'multi') expect(await readFile(join(root, 'opt/dir/y'), 'utf8')).toBe('y\n')
        else expect(await readFile(join(root, 'app/run.sh'), 'utf8')).toContain('schema2')
      })
    } finally {
      await t.dispose()
    }
  })

  it('rejects garbage with INVALID_ARCHIVE and leaves nothing', async () => {
    const t = tmpService()
    try {
      await expect(t.svc.load(Readable.from([Buffer.from('not a tar at all'.repeat(100))]))).rejects.toMatchObject({ code: 'INVALID_ARCHIVE' })
      await expect(t.svc.load(Readable.from([await buildTar([])]))).rejects.toMatchObject({ code: 'INVALID_ARCHIVE' })
      expect(await t.counts()).toEqual({ blobs: 0, snapshots: 0, images: 0, layers: 0 })
    } finally {
      await t.dispose()
    }
  })
})

describe('tag, remove, prune', () => {
  it('untags by name, keeps shared layers, never prunes an image in use, then prunes everything', async () => {
    const t = tmpService({}, reg)
    try {
      const multi = await t.svc.pull(`${reg.host}/fixtures/multi`)
      const s2 = await t.svc.pull(`${reg.host}/fixtures/schema2`)
      t.svc.tag(`${reg.host}/fixtures/schema2`, 'local/app:v1')
      expect(t.svc.resolve('local/app:v1')?.id).toBe(s2.id)
      expect(t.svc.resolve(s2.id)?.refs).toEqual([`${reg.host}/fixtures/schema2:latest`, 'docker.io/local/app:v1'])

      // two names: removing one only untags; removing by id needs force
      await expect(t.svc.remove(s2.id)).rejects.toMatchObject({ code: 'IMAGE_IN_USE' })
      expect(await t.svc.remove('local/app:v1')).toEqual({ untagged: ['docker.io/local/app:v1'], deleted: [] })
      expect(await t.counts()).toMatchObject({ images: 2, layers: 4, snapshots: 4 })

      // last name: the image goes, its own layer goes, the shared base stays
      expect(await t.svc.remove(`${reg.host}/fixtures/schema2`)).toEqual({ untagged: [`${reg.host}/fixtures/schema2:latest`], deleted: [s2.id] })
      expect(await t.counts()).toMatchObject({ images: 1, layers: 3, snapshots: 3, blobs: 5 }) // 3 layers + config + manifest
      await withMerged(await t.svc.lowerDirs(multi), async (root) => expect((await stat(join(root, 'bin/busybox'))).isFile()).toBe(true))
      await expect(t.svc.remove('nope:1')).rejects.toMatchObject({ code: 'NO_SUCH_IMAGE' })

      // prune: dangling only by default; `all` spares images in use
      expect(await t.svc.prune({ inUse: new Set() })).toMatchObject({ images: 0, layers: 0 })
      expect(await t.svc.prune({ inUse: new Set([multi.id]), all: true })).toMatchObject({ images: 0, layers: 0 })
      expect((await t.svc.lowerDirs(multi)).length).toBe(3)
      const r = await t.svc.prune({ inUse: new Set(), all: true })
      expect(r).toMatchObject({ images: 1, layers: 3 })
      expect(r.bytes).toBeGreaterThan(1_000_000)
      expect(await t.counts()).toEqual({ blobs: 0, snapshots: 0, images: 0, layers: 0 })
    } finally {
      await t.dispose()
    }
  })
})
