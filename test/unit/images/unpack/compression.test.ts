import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { buffer } from 'node:stream/consumers'
import { describe, expect, it } from 'vitest'
import { compressionOf, decompress, sniffCompression } from '../../../../src/images/decompress.js'

describe('compressionOf', () => {
  it.each([
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
    ['Application/VND.OCI.image.layer.v1.tar+gzip', 'gzip'],
  ])('%s → %s', (mt, want) => {
    expect(compressionOf(mt)).toBe(want)
  })

  it.each(['application/vnd.oci.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+bzip2', 'application/octet-stream', ''])(
    'refuses %j with UNSUPPORTED_MEDIA_TYPE',
    (mt) => {
      expect(() => compressionOf(mt)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE' }))
    },
  )
})

describe('sniffCompression', () => {
  it.each([
    [[0x1f, 0x8b, 0x08, 0x00], 'gzip'],
    [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
    [[0x50, 0x2a, 0x4d, 0x18], 'zstd'],
    [[0x5f, 0x2a, 0x4d, 0x18], 'zstd'],
    [[0x75, 0x73, 0x72, 0x2f], 'none'],
    [[0x1f], undefined],
  ] as const)('%j → %s', (bytes, want) => {
    expect(sniffCompression(Uint8Array.from(bytes))).toBe(want)
  })
})

const chunks = (b: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)))

describe('decompress (in-process codecs)', () => {
  const plain = Buffer.from('x'.repeat(100_000) + 'tail')
  it.each([
    ['gzip labelled gzip', gzipSync(plain), 'gzip'],
    ['gzip labelled none (mislabelled)', gzipSync(plain), 'none'],
    ['plain labelled none', plain, 'none'],
    ['plain labelled gzip (mislabelled)', plain, 'gzip'],
  ] as const)('%s yields the original bytes, whatever the chunking', async (_n, input, label) => {
    for (const size of [1, 3, 4096]) expect((await buffer(decompress(chunks(input, size), label))).equals(plain)).toBe(true)
  })

  it('an empty input is an empty output', async () => {
    expect((await buffer(decompress(Readable.from([]), 'gzip'))).length).toBe(0)
  })

  it('caps a decompression bomb with DECOMPRESSED_TOO_LARGE', async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20)) // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(1 << 20)
    await expect(buffer(decompress(Readable.from([bomb]), 'gzip', { maxBytes: 1 << 20 }))).rejects.toMatchObject({ code: 'DECOMPRESSED_TOO_LARGE' })
  })

  it('corrupt gzip fails with DECOMPRESS_FAILED', async () => {
    const gz = gzipSync(plain)
    gz[gz.length - 20]! ^= 0xff
    gz[40]! ^= 0xff
    await expect(buffer(decompress(Readable.from([gz]), 'gzip'))).rejects.toMatchObject({ code: 'DECOMPRESS_FAILED' })
  })

  it('passes an input error through unchanged', async () => {
    const boom = Object.assign(new Error('network gone'), { code: 'ECONNRESET' })
    const input = new Readable({ read() {} })
    input.push(gzipSync(plain).subarray(0, 100))
    setTimeout(() => input.destroy(boom), 5)
    await expect(buffer(decompress(input, 'gzip'))).rejects.toBe(boom)
  })
})
