import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { exec } from '../../../../src/lib/exec.js'
import type { Digest } from '../../../../src/images/types.js'
import { buildTar, type TarEntry } from '../../../fixtures/tar.js'

export const sha256 = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`

export interface Layer {
  tar: Buffer
  diffId: Digest
}

export async function layer(entries: readonly TarEntry[]): Promise<Layer> {
  const tar = await buildTar(entries)
  return { tar, diffId: sha256(tar) }
}

export type Compression = 'gzip' | 'zstd' | 'none'

export async function compress(tar: Buffer, c: Compression): Promise<Buffer> {
  if (c === 'gzip') return gzipSync(tar)
  if (c === 'zstd') {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-zst-'))
    try {
      await exec(['sh', '-c', `cat > ${dir}/in && zstd -q -3 ${dir}/in -o ${dir}/out`], { input: tar })
      return (await import('node:fs/promises')).readFile(`${dir}/out`)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  return tar
}

/** A stream of `b` in chunks of `size` bytes. */
export const chunked = (b: Buffer, size = 64 * 1024): Readable =>
  Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)))
