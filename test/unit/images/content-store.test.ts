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
