import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seed, type FixtureSet } from '../../fixtures/images.js'
import { startRegistry, type RegistryAuthMode, type TestRegistry } from '../../helpers/registry.js'
import { tmpService, withMerged } from './helpers.js'

// Every fixture pulled from a real docker-registry (Distribution 2.8) on 127.0.0.1, plain,
// behind htpasswd basic auth and behind token auth; asserted through a real overlay mount.
describe.each(['none', 'basic', 'token'] as RegistryAuthMode[])('pull from a %s-auth registry', (mode) => {
  let reg: TestRegistry
  let f: FixtureSet
  beforeAll(async () => {
    reg = await startRegistry({ auth: mode })
    f = await seed(reg)
  })
  afterAll(() => reg?.stop())

  it('multi-layer OCI image (no mediaType): whiteouts, opaque dir, modes, owners, links', async () => {
    const t = tmpService({}, reg)
    try {
      const img = await t.svc.pull(`${reg.host}/fixtures/multi`)
      expect(img).toMatchObject({ id: f.multi.configDigest, manifestDigest: f.multi.manifestDigest, refs: [`${reg.host}/fixtures/multi:latest`], platform: { os: 'linux', architecture: 'amd64' } })
      expect(img.config).toMatchObject({ Env: ['PATH=/bin', 'FIXTURE=multi'], User: '0:0', Cmd: ['/bin/sh'] })
      expect(img.layers.map((l) => l.diffId)).toEqual(f.multi.layers.map((l) => l.diffId))
      const dirs = await t.svc.lowerDirs(img)
      expect(dirs).toHaveLength(3)
      expect(dirs[0]).toContain(f.multi.layers[2]!.diffId.slice(7)) // top layer first
      await withMerged(dirs, async (root) => {
        // whiteouts and opaque dir, as overlayfs resolves them
        expect(await readdir(join(root, 'data'))).toEqual(['b'])
        expect((await readdir(join(root, 'opt/dir'))).sort()).toEqual(['y'])
        await expect(lstat(join(root, 'etc/deleteme'))).rejects.toMatchObject({ code: 'ENOENT' })
        expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe('top layer\n')
        // modes and owners
        expect((await stat(join(root, 'tmp'))).mode & 0o7777).toBe(0o1777)
        expect((await stat(join(root, 'usr/bin/su-like'))).mode & 0o7777).toBe(0o4755)
        expect((await stat(join(root, 'usr/bin/sg-like'))).mode & 0o7777).toBe(0o2755)
        expect(await stat(join(root, 'home/user/owned'))).toMatchObject({ uid: 1000, gid: 1000 })
        expect((await stat(join(root, 'home/user'))).mode & 0o777).toBe(0o700)
        // symlinks verbatim (absolute targets too) and hardlinks
        expect(await readlink(join(root, 'bin/sh'))).toBe('busybox')
        expect(await readlink(join(root, 'etc/mtab'))).toBe('/proc/self/mounts')
        const [a, b] = await Promise.all([stat(join(root, 'bin/busybox')), stat(join(root, 'bin/busybox-hardlink'))])
        expect(b.ino).toBe(a.ino)
        expect(a.nlink).toBe(2)
        expect((await stat(join(root, 'bin/busybox'))).mode & 0o777).toBe(0o755)
      })
    } finally {
      await t.dispose()
    }
  })

  it('Docker schema2 image shares the base layer (stored once); second pull downloads nothing', async () => {
    const t = tmpService({}, reg)
    try {
      await t.svc.pull(`${reg.host}/fixtures/multi`)
      const before = t.svc.client.blobRequests
      const s2 = await t.svc.pull(`${reg.host}/fixtures/schema2:latest`)
      expect(t.svc.client.blobRequests - before).toBe(2) // the app layer + config; never the shared base
      expect(s2.config).toMatchObject({ Entrypoint: ['/bin/sh'], Cmd: ['/app/run.sh'], ExposedPorts: { '8080/tcp': {} } })
      const c = await t.counts()
      expect(c).toMatchObject({ images: 2, layers: 4, snapshots: 4 }) // 3 + 1 new, base shared
      await withMerged(await t.svc.lowerDirs(s2), async (root) => {
        expect(await readFile(join(root, 'app/run.sh'), 'utf8')).toContain('schema2')
        expect(await readdir(join(root, 'data')).catch((e) => e.code)).toBe('ENOENT')
      })
      const n = t.svc.client.blobRequests
      const again = await t.svc.pull(`${reg.host}/fixtures/schema2`)
      expect(again.id).toBe(s2.id)
      expect(t.svc.client.blobRequests).toBe(n)
      expect(await t.counts()).toEqual(c)
    } finally {
      await t.dispose()
    }
  })

  it.each([
    ['fixtures/multiarch', undefined, 'amd64'],
    ['fixtures/multiarch', 'linux/arm64', 'arm64'],
    ['fixtures/list', 'linux/arm64/v8', 'arm64'],
    ['fixtures/list', 'linux/amd64', 'amd64'],
  ])('index %s with platform %s selects %s', async (repo, platform, arch) => {
    const t = tmpService({}, reg)
    try {
      const img = await t.svc.pull(`${reg.host}/${repo}`, platform ? { platform } : {})
      expect(img.platform.architecture).toBe(arch)
      await withMerged(await t.svc.lowerDirs(img), async (root) => expect(await readFile(join(root, 'arch'), 'utf8')).toBe(`${arch}\n`))
    } finally {
      await t.dispose()
    }
  })

  it('pulls by digest and by tag+digest; both resolve locally', async () => {
    const t = tmpService({}, reg)
    try {
      const byDigest = await t.svc.pull(`${reg.host}/fixtures/multi@${f.multi.manifestDigest}`)
      expect(byDigest.refs).toEqual([`${reg.host}/fixtures/multi@${f.multi.manifestDigest}`])
      const both = await t.svc.pull(`${reg.host}/fixtures/multiarch:latest@${f.multiarch.digest}`, { platform: 'linux/arm64' })
      expect(both.platform.architecture).toBe('arm64')
      expect(t.svc.resolve(`${reg.host}/fixtures/multi@${f.multi.manifestDigest}`)?.id).toBe(f.multi.configDigest)
      expect(t.svc.resolve(`${reg.host}/fixtures/multiarch:latest@${f.multiarch.digest}`)?.id).toBe(both.id)
      const wrong = `sha256:${'0'.repeat(64)}`
      await expect(t.svc.pull(`${reg.host}/fixtures/multi@${wrong}`)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' })
    } finally {
      await t.dispose()
    }
  })

  it('an index without the platform fails with NO_MATCHING_PLATFORM and leaves nothing', async () => {
    const t = tmpService({}, reg)
    try {
      await expect(t.svc.pull(`${reg.host}/fixtures/multiarch`, { platform: 'linux/s390x' })).rejects.toMatchObject({ code: 'NO_MATCHING_PLATFORM' })
      expect(await t.counts()).toEqual({ blobs: 0, snapshots: 0, images: 0, layers: 0 })
    } finally {
      await t.dispose()
    }
  })

  it('an unknown repository or tag is IMAGE_NOT_FOUND (422)', async () => {
    const t = tmpService({}, reg)
    try {
      await expect(t.svc.pull(`${reg.host}/fixtures/nope`)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND', kind: 'failed_precondition' })
      await expect(t.svc.pull(`${reg.host}/fixtures/multi:nope`)).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' })
    } finally {
      await t.dispose()
    }
  })

  if (mode !== 'none')
    it('wrong credentials fail with REGISTRY_UNAUTHORIZED', async () => {
      const t = tmpService({ registries: { auth: { [reg.host]: { username: reg.username, password: 'wrong' } } } })
      try {
        await expect(t.svc.pull(`${reg.host}/fixtures/multi`)).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED', kind: 'unauthenticated' })
        expect(await t.counts()).toMatchObject({ blobs: 0, images: 0 })
      } finally {
        await t.dispose()
      }
    })

  it('concurrent pulls of the same image share one download and emit progress', async () => {
    const t = tmpService({}, reg)
    try {
      const events: string[] = []
      const [a, b] = await Promise.all([
        t.svc.pull(`${reg.host}/fixtures/multi`, { onProgress: (p) => events.push(`a:${p.state}`) }),
        t.svc.pull(`${reg.host}/fixtures/multi`, { onProgress: (p) => events.push(`b:${p.state}`) }),
      ])
      expect(a.id).toBe(b.id)
      expect(t.svc.client.blobRequests).toBe(4) // 3 layers + config, once
      expect(events.filter((e) => e === 'a:done')).toHaveLength(3)
      expect(events.filter((e) => e === 'b:done')).toHaveLength(3)
    } finally {
      await t.dispose()
    }
  })
})
