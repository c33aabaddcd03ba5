import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { listAttributes } from '@napi-rs/xattr'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { decompress } from '../../src/images/decompress.js'
import { Snapshotter } from '../../src/images/snapshotter.js'
import { buildTar, chardev, dir, file, hardlink, opaque, symlink, whiteout, type TarEntry } from '../fixtures/tar.js'
import { chunked, compress, sha256 } from '../integration/images/unpack/helpers.js'

// Hostile layers (containerd's TestBreakouts, CVE-2018-15664 family). Each case runs
// against a fresh snapshot root inside `work`, next to `work/outside/sentinel`; after
// each case nothing outside the snapshot root may have changed.

let work: string
let outside: string
let snaps: Snapshotter
const pwned = `skiff-pwned-${randomBytes(4).toString('hex')}`
const passwdHash = async () => createHash('sha256').update(await readFile('/etc/passwd')).digest('hex')
let passwdBefore: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'skiff-breakout-'))
  outside = join(work, 'outside')
  passwdBefore = await passwdHash()
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})
beforeEach(async () => {
  await rm(outside, { recursive: true, force: true })
  await rm(join(work, 'snaps'), { recursive: true, force: true })
  await mkdir(outside)
  await writeFile(join(outside, 'sentinel'), 'untouched')
  snaps = new Snapshotter({ root: join(work, 'snaps') })
})

async function walk(d: string): Promise<string[]> {
  const out: string[] = []
  for (const n of await readdir(d)) {
    const p = join(d, n)
    out.push(relative(work, p))
    if ((await lstat(p)).isDirectory()) out.push(...(await walk(p)))
  }
  return out
}

/** Everything outside the snapshot root is as beforeEach left it. */
async function expectNothingOutside(): Promise<void> {
  expect((await walk(work)).filter((p) => !p.startsWith('snaps/')).sort()).toEqual(['outside', 'outside/sentinel', 'snaps'])
  expect(await readFile(join(outside, 'sentinel'), 'utf8')).toBe('untouched')
  expect(existsSync(`/etc/${pwned}`)).toBe(false)
  expect(await passwdHash()).toBe(passwdBefore)
}

async function unpack(entries: (o: string) => TarEntry[]) {
  const tar = await buildTar(entries(outside))
  return snaps.unpack(sha256(tar), chunked(tar, 700))
}

const rejected: [string, (o: string) => TarEntry[]][] = [
  ['a dot-dot entry', () => [file('../x', 'pwned')]],
  ['a deep dot-dot entry', () => [file('a/../../x', 'pwned')]],
  ['a dot-dot entry reaching the sentinel dir', () => [file('../../../../outside/sentinel', 'pwned')]],
  ['an absolute symlink to /etc, then a write through it', () => [symlink('/etc', 'e'), file(`e/${pwned}`, 'pwned')]],
  ['the brief\'s /etc/passwd write-through', () => [symlink('/etc', 'e'), file('e/passwd', 'root::0:0::/:/bin/sh')]],
  ['an absolute symlink to the outside dir, then a write through it', (o) => [symlink(o, 'o'), file('o/new', 'pwned')]],
  ['a relative symlink climbing out, then a write through it', () => [symlink('../../..', 'up'), file('up/x', 'pwned')]],
  ['a nested relative symlink climbing out', () => [dir('a'), dir('a/b'), symlink('../../../../../../', 'a/b/up'), file('a/b/up/outside/sentinel', 'pwned')]],
  ['a symlink to a dir, then a directory entry through it', (o) => [symlink(o, 's'), dir('s/sub')]],
  ['a symlink, then a symlink through it', (o) => [symlink(o, 's'), symlink('/x', 's/link')]],
  ['a symlink, then a hardlink created through it', (o) => [file('f', 'x'), symlink(o, 's'), hardlink('f', 's/h')]],
  ['a symlink, then a device through it', (o) => [symlink(o, 's'), chardev('s/dev', 1, 3)]],
  ['a symlink, then a whiteout through it', (o) => [symlink(o, 's'), whiteout('s/sentinel')]],
  ['a symlink, then an opaque marker through it', (o) => [symlink(o, 's'), opaque('s')]],
  ['a hardlink to a file outside', () => [hardlink('../../outside/sentinel', 'h')]],
  ['a hardlink to an absolute host path', () => [hardlink('/etc/passwd', 'h')]],
  ['a hardlink through an outside-pointing symlink path', () => [symlink('/etc', 'e'), hardlink('e/passwd', 'h')]],
  ['a hardlink to a directory', () => [dir('d'), hardlink('d', 'h')]],
  ['a file used as a directory', () => [file('f', 'x'), file('f/x', 'y')]],
  ['a whiteout named dot-dot', () => [file('.wh...', '')]],
]

describe('hostile layer tars', () => {
  it.each(rejected)('rejects %s with UNSAFE_TAR_ENTRY and writes nothing outside', async (_name, entries) => {
    expect.assertions(7)
    await expect(unpack(entries)).rejects.toMatchObject({ code: 'UNSAFE_TAR_ENTRY' })
    expect(await snaps.list()).toEqual([])
    expect(await readdir(join(snaps.root, 'tmp'))).toEqual([])
    await expectNothingOutside()
  })

  it('makes an absolute entry name relative (contained)', async () => {
    const r = await unpack(() => [file(`/etc/${pwned}`, 'contained')])
    expect(await readFile(join(r.path, 'etc', pwned), 'utf8')).toBe('contained')
    await expectNothingOutside()
  })

  it('a hardlink to an outside-pointing symlink links the symlink itself, and a later file replaces it instead of writing through', async () => {
    const r = await unpack((o) => [symlink(join(o, 'sentinel'), 'p'), hardlink('p', 'h'), file('h', 'pwned')])
    expect(await readlink(join(r.path, 'p'))).toBe(join(outside, 'sentinel'))
    expect((await lstat(join(r.path, 'h'))).isFile()).toBe(true)
    expect(await readFile(join(r.path, 'h'), 'utf8')).toBe('pwned')
    await expectNothingOutside()
  })

  it('a file entry over a symlink replaces the link, never writes through it', async () => {
    const r = await unpack((o) => [symlink(join(o, 'sentinel'), 'f'), file('f', 'pwned'), symlink('/etc/passwd', 'g'), file('g', 'pwned')])
    expect(await readFile(join(r.path, 'f'), 'utf8')).toBe('pwned')
    expect((await lstat(join(r.path, 'g'))).isFile()).toBe(true)
    await expectNothingOutside()
  })

  it('a directory entry replacing a symlink makes a real directory (contained)', async () => {
    const r = await unpack((o) => [symlink(o, 'd'), dir('d'), file('d/x', 'inside')])
    expect((await lstat(join(r.path, 'd'))).isDirectory()).toBe(true)
    expect(await readFile(join(r.path, 'd/x'), 'utf8')).toBe('inside')
    await expectNothingOutside()
  })

  it('ignores trusted.overlay.* xattrs a layer tries to set itself', async () => {
    const r = await unpack(() => [dir('d', { pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': '1' } } as never)])
    expect(await listAttributes(join(r.path, 'd'))).toEqual(['user.ok'])
    await expectNothingOutside()
  })

  it('later entries replace earlier ones like docker (file over dir, dir over file, dir over dir keeps children)', async () => {
    const r = await unpack(() => [
      dir('a'), file('a/child', '1'), file('a', 'now a file'),
      file('b', 'x'), dir('b'), file('b/c', '2'),
      dir('k'), file('k/kept', '3'), dir('k', { mode: 0o700 }),
    ])
    expect(await readFile(join(r.path, 'a'), 'utf8')).toBe('now a file')
    expect(await readFile(join(r.path, 'b/c'), 'utf8')).toBe('2')
    expect(await readdir(join(r.path, 'k'))).toEqual(['kept'])
    expect((await lstat(join(r.path, 'k'))).mode & 0o777).toBe(0o700)
  })
})

describe('decompression bombs', () => {
  it.each(['gzip', 'zstd'] as const)('a %s bomb is capped with DECOMPRESSED_TOO_LARGE and publishes nothing', async (c) => {
    const plain = Buffer.alloc(256 << 20) // 256 MiB of zeros: a valid (empty) tar
    const blob = c === 'gzip' ? gzipSync(plain, { level: 9 }) : await compress(plain, 'zstd')
    expect(blob.length).toBeLessThan(1 << 20)
    const t0 = performance.now()
    await expect(snaps.unpack(sha256(plain), decompress(Readable.from([blob]), c, { maxBytes: 16 << 20 }))).rejects.toMatchObject({ code: 'DECOMPRESSED_TOO_LARGE' })
    expect(performance.now() - t0).toBeLessThan(5000)
    expect(await snaps.list()).toEqual([])
    expect(await readdir(join(snaps.root, 'tmp'))).toEqual([])
  })
})
