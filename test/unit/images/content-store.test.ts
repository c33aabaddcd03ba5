import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ContentStore } from '../../../src/images/content-store.js'
import { sha256, verifyBytes, verifyDigest } from '../../../src/images/verify.js'
import type { Digest } from '../../../src/images/types.js'

const chunks = (b: Buffer, n = 7) => Readable.from(Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n)))
const body = Buffer.from('hello skiff content store\n'.repeat(100))
const D = sha256(body)
const OTHER = sha256('other')

describe('Verifier', () => {
  const cases = [
    { name: 'matching bytes', opts: { digest: D, size: body.length }, code: undefined },
    { name: 'unknown size', opts: { digest: D }, code: undefined },
    { name: 'wrong digest', opts: { digest: OTHER, size: body.length }, code: 'DIGEST_MISMATCH' },
    { name: 'fewer bytes than claimed', opts: { digest: D, size: body.length + 1 }, code: 'SIZE_MISMATCH' },
    { name: 'more bytes than claimed', opts: { digest: D, size: 10 }, code: 'SIZE_MISMATCH' },
    { name: 'over the cap', opts: { digest: D, maxBytes: 100 }, code: 'BLOB_TOO_LARGE' },
  ]
  it.each(cases)('$name', async ({ opts, code }) => {
    let ended = false
    const sink = new (await import('node:stream')).Writable({ write: (_c, _e, cb) => cb(), final: (cb) => ((ended = true), cb()) })
    const p = pipeline(chunks(body), verifyDigest(opts as { digest: Digest }), sink)
    if (code) {
      await expect(p).rejects.toMatchObject({ code })
      expect(ended).toBe(false) // downstream never saw a clean end
    } else {
      await p
      expect(ended).toBe(true)
    }
  })
  it('verifyBytes checks digest, size and cap', () => {
    expect(() => verifyBytes(body, { digest: D, size: body.length })).not.toThrow()
    expect(() => verifyBytes(body, { digest: OTHER })).toThrow(expect.objectContaining({ code: 'DIGEST_MISMATCH' }))
    expect(() => verifyBytes(body, { digest: D, maxBytes: 3 })).toThrow(expect.objectContaining({ code: 'BLOB_TOO_LARGE' }))
  })
})

describe('ContentStore', () => {
  let dir: string
  let cs: ContentStore
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-cs-'))
    cs = new ContentStore(dir)
    await cs.init()
  })
  afterEach(() => rm(dir, { recursive: true, force: true }))

  it('ingests, stats, reads, lists and deletes', async () => {
    let seen = 0
    await cs.ingest({ mediaType: 'x', digest: D, size: body.length }, chunks(body), { onBytes: (n) => (seen += n) })
    expect(seen).toBe(body.length)
    expect(await cs.stat(D)).toEqual({ size: body.length })
    const back: Buffer[] = []
    for await (const c of cs.read(D)) back.push(c as Buffer)
    expect(Buffer.concat(back).equals(body)).toBe(true)
    const all: Digest[] = []
    for await (const d of cs.list()) all.push(d)
    expect(all).toEqual([D])
    await cs.delete(D)
    expect(await cs.stat(D)).toBeUndefined()
  })

  it.each([
    { name: 'digest mismatch', desc: { mediaType: 'x', digest: OTHER, size: body.length }, code: 'DIGEST_MISMATCH' },
    { name: 'short body', desc: { mediaType: 'x', digest: D, size: body.length + 5 }, code: 'SIZE_MISMATCH' },
  ])('a failed ingest ($name) leaves nothing', async ({ desc, code }) => {
    await expect(cs.ingest(desc, chunks(body))).rejects.toMatchObject({ code })
    expect(await readdir(cs.blobsDir)).toEqual([])
    expect(await readdir(cs.ingestDir)).toEqual([])
  })

  it('a source error mid-stream leaves nothing', async () => {
    let n = 0
    const src = new Readable({ read() { if (n++ === 0) this.push(body.subarray(0, 10)); else this.destroy(new Error('connection reset')) } })
    await expect(cs.ingest({ mediaType: 'x', digest: D, size: body.length }, src)).rejects.toThrow('connection reset')
    expect(await readdir(cs.blobsDir)).toEqual([])
    expect(await readdir(cs.ingestDir)).toEqual([])
  })

  it('read of a missing blob fails with BLOB_NOT_FOUND', async () => {
    await expect(cs.readBytes(D)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' })
    await expect(async () => { for await (const _ of cs.read(D)) void _ }).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' })
  })
})

describe('ContentStore crash recovery (no fsync per blob)', () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'skiff-cs-recover-'))
  })
  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })
  const good = Buffer.from('a blob that survived\n')
  const torn = Buffer.from('a blob whose bytes never reached the disk\n')
  // prev: how the last process left the store; boot: whether the machine rebooted since.
  const cases = [
    { name: 'reboot after an unclean shutdown: torn blob removed', prevClean: false, reboot: true, removed: true },
    { name: 'reboot after a clean close: nothing re-checked', prevClean: true, reboot: true, removed: false },
    { name: 'process crash without reboot: page cache intact, nothing re-checked', prevClean: false, reboot: false, removed: false },
  ]
  it.each(cases)('$name', async ({ prevClean, reboot, removed }) => {
    let boot = 'boot-1'
    const s1 = new ContentStore(root, { bootId: () => boot })
    await s1.init()
    await s1.putBytes({ mediaType: 'x', digest: sha256(good), size: good.length }, good)
    await s1.putBytes({ mediaType: 'x', digest: sha256(torn), size: torn.length }, torn)
    if (prevClean) await s1.close()
    const { writeFile } = await import('node:fs/promises')
    await writeFile(s1.path(sha256(torn)), Buffer.alloc(torn.length)) // what a power loss can leave
    if (reboot) boot = 'boot-2'
    const s2 = new ContentStore(root, { bootId: () => boot })
    await s2.init()
    expect(s2.recovered).toEqual(removed ? [sha256(torn)] : [])
    expect(await s2.stat(sha256(torn))).toEqual(removed ? undefined : { size: torn.length })
    expect(await s2.stat(sha256(good))).toEqual({ size: good.length })
  })
  it('close() records a clean shutdown; init() marks the store in use again', async () => {
    const s = new ContentStore(root, { bootId: () => 'b' })
    await s.init()
    const { readFile } = await import('node:fs/promises')
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toEqual({ bootId: 'b', clean: false })
    await s.close()
    expect(JSON.parse(await readFile(join(root, 'state.json'), 'utf8'))).toEqual({ bootId: 'b', clean: true })
  })
})
