import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { getAttribute } from '@napi-rs/xattr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decompress } from '../../../../src/images/decompress.js'
import { Snapshotter } from '../../../../src/images/snapshotter.js'
import { exec } from '../../../../src/lib/exec.js'
import { chardev, dir, fifo, file, hardlink, opaque, symlink, whiteout } from '../../../fixtures/tar.js'
import { chunked, compress, layer, type Compression, type Layer } from './helpers.js'

const T1 = new Date('2001-02-03T04:05:06Z')
const T2 = new Date('2011-12-13T14:15:16Z')
const MEDIUM = Buffer.alloc(200_000, 'm')
const LARGE = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => i % 251))

// base: the features an image layer must keep; upper: deletes and replaces some of them.
const baseEntries = [
  dir('bin', { mtime: T1 }),
  file('bin/su', '#!su', { mode: 0o4755 }),
  hardlink('bin/su', 'bin/su-link'),
  symlink('/bin/su', 'bin/abs-link'),
  symlink('../bin/su', 'bin/rel-link'),
  dir('tmp', { mode: 0o1777, mtime: T2 }),
  dir('srv', { mode: 0o2775, gid: 50 }),
  dir('home'),
  dir('home/user', { uid: 1000, gid: 1000, mode: 0o700 }),
  file('home/user/notes', 'secret', { uid: 1000, gid: 1000, mode: 0o600, mtime: T2 }),
  file('etc/deleteme', 'bye'),
  dir('etc/cache'),
  file('etc/cache/old', 'old'),
  dir('etc/keep'),
  file('etc/keep/a', 'a'),
  chardev('dev/null', 1, 3),
  fifo('run/fifo', { mode: 0o600 }),
  file('etc/attr', 'x', { pax: { 'SCHILY.xattr.user.skiff': 'value-1' } } as never),
  // sizes that take the other write paths: background write (64 KiB–1 MiB) and streamed (> 1 MiB)
  file('big/medium', MEDIUM, { uid: 1000, gid: 1000, mode: 0o4750, mtime: T2 }),
  hardlink('big/medium', 'big/medium-link'),
  file('big/large', LARGE, { mode: 0o640, mtime: T1, pax: { 'SCHILY.xattr.user.big': 'L' } } as never),
  file('big/replaced', MEDIUM),
  file('big/replaced', 'short now'),
]
const upperEntries = [
  dir('etc', { mtime: T1 }),
  whiteout('etc/deleteme'),
  dir('etc/cache'),
  opaque('etc/cache'),
  file('etc/cache/new', 'new'),
  whiteout('bin/rel-link'),
]

let work: string
let snaps: Snapshotter
let base: Layer
let upper: Layer

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'skiff-unpack-'))
  snaps = new Snapshotter({ root: join(work, 'snapshots') })
  base = await layer(baseEntries)
  upper = await layer(upperEntries)
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

async function tmpEntries(): Promise<string[]> {
  return readdir(join(snaps.root, 'tmp'))
}

describe.each(['none', 'gzip', 'zstd'] as Compression[])('Snapshotter.unpack of a %s layer', (c) => {
  let root: string
  beforeAll(async () => {
    const s = new Snapshotter({ root: join(work, `snaps-${c}`) })
    const blob = await compress(base.tar, c)
    const r = await s.unpack(base.diffId, decompress(chunked(blob, 1000), c))
    expect(r).toEqual({ path: join(work, `snaps-${c}`, 'sha256', base.diffId.slice(7), 'fs'), diffId: base.diffId, size: base.tar.length })
    root = r.path
  })

  it('keeps modes incl. setuid, sticky and setgid', async () => {
    expect((await stat(join(root, 'bin/su'))).mode & 0o7777).toBe(0o4755)
    expect((await stat(join(root, 'tmp'))).mode & 0o7777).toBe(0o1777)
    expect((await stat(join(root, 'srv'))).mode & 0o7777).toBe(0o2775)
    expect((await stat(join(root, 'home/user/notes'))).mode & 0o7777).toBe(0o600)
  })

  it('keeps owners', async () => {
    expect(await stat(join(root, 'home/user'))).toMatchObject({ uid: 1000, gid: 1000 })
    expect(await stat(join(root, 'home/user/notes'))).toMatchObject({ uid: 1000, gid: 1000 })
    expect(await stat(join(root, 'srv'))).toMatchObject({ uid: 0, gid: 50 })
  })

  it('keeps mtimes of files and directories (dirs set after their children)', async () => {
    expect((await stat(join(root, 'bin'))).mtime).toEqual(T1)
    expect((await stat(join(root, 'tmp'))).mtime).toEqual(T2)
    expect((await stat(join(root, 'home/user/notes'))).mtime).toEqual(T2)
    expect((await stat(join(root, 'bin/su'))).mtimeMs).toBe(1_700_000_000_000)
  })

  it('creates symlinks verbatim, absolute and relative', async () => {
    expect(await readlink(join(root, 'bin/abs-link'))).toBe('/bin/su')
    expect(await readlink(join(root, 'bin/rel-link'))).toBe('../bin/su')
  })

  it('makes hardlinks share the inode', async () => {
    const [a, b] = [await stat(join(root, 'bin/su')), await stat(join(root, 'bin/su-link'))]
    expect(b.ino).toBe(a.ino)
    expect(a.nlink).toBe(2)
  })

  it('creates devices and fifos, and content', async () => {
    const d = await lstat(join(root, 'dev/null'))
    expect(d.isCharacterDevice()).toBe(true)
    expect(d.rdev).toBe((1 << 8) | 3)
    expect((await lstat(join(root, 'run/fifo'))).isFIFO()).toBe(true)
    expect(await readFile(join(root, 'home/user/notes'), 'utf8')).toBe('secret')
  })

  it('writes medium (background) and large (streamed) files with content and metadata', async () => {
    expect((await readFile(join(root, 'big/medium'))).equals(MEDIUM)).toBe(true)
    expect((await readFile(join(root, 'big/large'))).equals(LARGE)).toBe(true)
    expect(await stat(join(root, 'big/medium'))).toMatchObject({ uid: 1000, gid: 1000, mode: 0o104750, mtime: T2, nlink: 2 })
    expect((await stat(join(root, 'big/medium-link'))).ino).toBe((await stat(join(root, 'big/medium'))).ino)
    expect(await stat(join(root, 'big/large'))).toMatchObject({ mode: 0o100640, mtime: T1 })
    expect((await getAttribute(join(root, 'big/large'), 'user.big'))?.toString()).toBe('L')
    expect(await readFile(join(root, 'big/replaced'), 'utf8')).toBe('short now')
  })

  it('applies PAX xattrs', async () => {
    expect((await getAttribute(join(root, 'etc/attr'), 'user.skiff'))?.toString()).toBe('value-1')
  })
})

describe('Snapshotter: overlay form and stacking', () => {
  let lowerPath: string
  let upperPath: string
  beforeAll(async () => {
    lowerPath = (await snaps.unpack(base.diffId, chunked(base.tar))).path
    upperPath = (await snaps.unpack(upper.diffId, chunked(upper.tar))).path
  })

  it('stores whiteouts as char devices 0:0 and opaque dirs as trusted.overlay.opaque=y', async () => {
    for (const p of ['etc/deleteme', 'bin/rel-link']) {
      const s = await lstat(join(upperPath, p))
      expect(s.isCharacterDevice()).toBe(true)
      expect(s.rdev).toBe(0)
    }
    expect((await getAttribute(join(upperPath, 'etc/cache'), 'trusted.overlay.opaque'))?.toString()).toBe('y')
    expect(await readdir(join(upperPath, 'etc'))).not.toContain('.wh.deleteme')
    expect((await stat(join(upperPath, 'etc'))).mtime).toEqual(T1)
  })

  it('a real overlay mount of upper:lower hides whited-out files and opaque-dir contents', async () => {
    const mnt = join(work, 'merged')
    await mkdir(mnt)
    await exec(['mount', '-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${upperPath}:${lowerPath}`, mnt])
    try {
      expect((await readdir(join(mnt, 'etc'))).sort()).toEqual(['attr', 'cache', 'keep'])
      expect(await readdir(join(mnt, 'etc/cache'))).toEqual(['new'])
      expect(await readdir(join(mnt, 'etc/keep'))).toEqual(['a'])
      expect((await readdir(join(mnt, 'bin'))).sort()).toEqual(['abs-link', 'su', 'su-link'])
      expect((await stat(join(mnt, 'bin/su'))).mode & 0o7777).toBe(0o4755)
      expect((await stat(join(mnt, 'tmp'))).mode & 0o7777).toBe(0o1777)
    } finally {
      await exec(['umount', mnt])
    }
  })

  it('lists, finds and removes snapshots', async () => {
    expect(await snaps.list()).toEqual([base.diffId, upper.diffId].sort())
    expect(await snaps.has(upper.diffId)).toBe(true)
    expect(await snaps.path(upper.diffId)).toBe(upperPath)
    expect((await snaps.unpack(upper.diffId, chunked(upper.tar))).size).toBe(upper.tar.length)
    await snaps.remove(upper.diffId)
    expect(await snaps.has(upper.diffId)).toBe(false)
    expect(await snaps.path(upper.diffId)).toBeUndefined()
    expect(await snaps.list()).toEqual([base.diffId])
    await snaps.remove(upper.diffId) // idempotent
    expect(await tmpEntries()).toEqual([])
  })
})

describe('Snapshotter: failures publish nothing', () => {
  it('a diff id mismatch fails with DIFF_ID_MISMATCH and leaves no snapshot or temp dir', async () => {
    const s = new Snapshotter({ root: join(work, 'mismatch') })
    const claimed = `sha256:${'ab'.repeat(32)}` as const
    await expect(s.unpack(claimed, chunked(base.tar))).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' })
    expect(await s.list()).toEqual([])
    expect(await s.has(claimed)).toBe(false)
    expect(await readdir(join(s.root, 'tmp'))).toEqual([])
  })

  it('an input stream that errors mid-way rejects with its error and leaves nothing', async () => {
    const s = new Snapshotter({ root: join(work, 'erroring') })
    const boom = new Error('connection reset')
    const input = new Readable({ read() {} })
    input.push(base.tar.subarray(0, 3000))
    setTimeout(() => input.destroy(boom), 20)
    await expect(s.unpack(base.diffId, input)).rejects.toBe(boom)
    expect(await s.list()).toEqual([])
    expect(await readdir(join(s.root, 'tmp'))).toEqual([])
  })

  it('an input stream that errors before the unpack reads it: rejects with its error, nothing uncaught', async () => {
    const s = new Snapshotter({ root: join(work, 'erroring-early') })
    const boom = new Error('connection reset early')
    const input = new Readable({ read() {} })
    const p = s.unpack(base.diffId, input)
    input.destroy(boom) // before the unpack's first await has resolved
    await expect(p).rejects.toBe(boom)
    expect(await s.list()).toEqual([])
    expect(await readdir(join(s.root, 'tmp'))).toEqual([])
  })

  it('an abort signal stops the unpack with ABORTED and leaves nothing', async () => {
    const s = new Snapshotter({ root: join(work, 'aborted') })
    const input = new Readable({ read() {} })
    input.push(base.tar.subarray(0, 3000))
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 20)
    await expect(s.unpack(base.diffId, input, { signal: ac.signal })).rejects.toMatchObject({ code: 'ABORTED' })
    expect(input.destroyed).toBe(true)
    expect(await s.list()).toEqual([])
    expect(await readdir(join(s.root, 'tmp'))).toEqual([])
  })

  it('an invalid diff id is refused', async () => {
    await expect(snaps.unpack('sha256:xyz' as never, chunked(base.tar))).rejects.toMatchObject({ code: 'INVALID_DIFF_ID' })
  })
})

describe('Snapshotter: concurrency', () => {
  it('concurrent unpacks of one diff id share one extraction; the joiners\' streams are drained unextracted', async () => {
    const s = new Snapshotter({ root: join(work, 'concurrent') })
    // The joiners carry garbage: had any of them been extracted, it would fail with INVALID_TAR.
    const garbage = () => chunked(Buffer.alloc(10_000, 0x41), 1000)
    const extra = Array.from({ length: 4 }, garbage)
    const ended = extra.map((x) => new Promise<void>((resolve) => x.on('end', resolve)))
    const results = await Promise.all([s.unpack(base.diffId, chunked(base.tar, 512)), ...extra.map((x) => s.unpack(base.diffId, x))])
    expect(new Set(results.map((r) => r.path)).size).toBe(1)
    expect(results.every((r) => r.diffId === base.diffId && r.size === base.tar.length)).toBe(true)
    await Promise.all(ended) // drained to the end, so an upstream verifier completes
    expect(await s.list()).toEqual([base.diffId])
    // After publication, another unpack returns the snapshot and drains its stream too.
    const late = garbage()
    const lateEnded = new Promise<void>((resolve) => late.on('end', resolve))
    expect((await s.unpack(base.diffId, late)).path).toBe(results[0]!.path)
    await lateEnded
  })

  it('different diff ids unpack in parallel', async () => {
    const s = new Snapshotter({ root: join(work, 'parallel') })
    const layers = await Promise.all([1, 2, 3].map((i) => layer([file(`f${i}`, String(i).repeat(100_000))])))
    const rs = await Promise.all(layers.map((l) => s.unpack(l.diffId, chunked(l.tar))))
    expect(rs.map((r) => r.diffId)).toEqual(layers.map((l) => l.diffId))
    expect(await s.list()).toEqual(layers.map((l) => l.diffId).sort())
  })
})

describe('Snapshotter: edge cases', () => {
  it('an entry below a path this layer whited out re-creates it as a directory', async () => {
    const s = new Snapshotter({ root: join(work, 'wh-then-dir') })
    const l = await layer([whiteout('opt/app'), file('opt/app/new', 'n')])
    const r = await s.unpack(l.diffId, chunked(l.tar))
    expect((await lstat(join(r.path, 'opt/app'))).isDirectory()).toBe(true)
    expect(await readFile(join(r.path, 'opt/app/new'), 'utf8')).toBe('n')
  })

  it('durable: true syncs before publishing and still unpacks', async () => {
    const s = new Snapshotter({ root: join(work, 'durable'), durable: true })
    expect((await s.unpack(base.diffId, chunked(base.tar))).size).toBe(base.tar.length)
  })

  it('a full filesystem fails with NO_SPACE and leaves no staging dir', async () => {
    const mnt = join(work, 'small')
    await mkdir(mnt)
    await exec(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'skiff-test-small', mnt])
    try {
      const s = new Snapshotter({ root: mnt })
      const l = await layer([file('a', Buffer.alloc(600_000, 1)), file('b', Buffer.alloc(600_000, 2))])
      await expect(s.unpack(l.diffId, chunked(l.tar))).rejects.toMatchObject({ code: 'NO_SPACE', kind: 'insufficient_storage' })
      expect(await s.list()).toEqual([])
      expect(await readdir(join(mnt, 'tmp'))).toEqual([])
    } finally {
      await exec(['umount', mnt])
    }
  })
})
