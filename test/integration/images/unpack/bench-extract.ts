// Extraction throughput of the Snapshotter on a real tree, next to GNU tar.
// Not part of npm test. Usage (root):
//   npx tsx test/integration/images/unpack/bench-extract.ts [tree dirs…]   (default: a ~400 MB slice of /usr/share)
//   BENCH_TMPFS=1 extracts into a tmpfs (skiff's own cost without the disk); RUNS=n (default 3)
// Prints MB/s and files/s for: tar -x, skiff (none), skiff gzip (zlib / pigz), skiff zstd.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decompress, type Compression } from '../../../../src/images/decompress.js'
import { Snapshotter } from '../../../../src/images/snapshotter.js'
import { exec } from '../../../../src/lib/exec.js'
import type { Digest } from '../../../../src/images/types.js'

const dirs = process.argv.slice(2)
const tree = dirs.length ? dirs : ['usr/share/doc', 'usr/share/vim', 'usr/share/perl', 'usr/share/zoneinfo', 'usr/share/i18n', 'usr/share/locale', 'usr/share/man']
const runs = Number(process.env.RUNS ?? 3)
const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'skiff-bench-unpack-'))
const sh = (s: string) => exec(['bash', '-euo', 'pipefail', '-c', s])
// BENCH_TMPFS=1: extract into RAM to measure skiff's own cost without the disk.
const tmpfs = process.env.BENCH_TMPFS === '1'
if (tmpfs) await sh(`mount -t tmpfs -o size=6g skiff-bench ${work}`)
try {
  const tar = join(work, 'layer.tar')
  await sh(`tar -C / -cf ${tar} ${tree.map((d) => d.replace(/^\//, '')).join(' ')} && pigz -6 -k ${tar} && zstd -q -3 ${tar} -o ${tar}.zst`)
  const size = (await stat(tar)).size
  const files = Number((await sh(`tar -tf ${tar} | wc -l`)).stdout.trim())
  const h = createHash('sha256')
  for await (const c of createReadStream(tar)) h.update(c as Buffer)
  const diffId = `sha256:${h.digest('hex')}` as Digest
  console.log(`tree: ${tree.join(' ')}\ntar: ${(size / 1e6).toFixed(1)} MB, ${files} entries, ${runs} runs each (median)\n`)

  const time = async (name: string, fn: (i: number) => Promise<unknown>) => {
    const ms: number[] = []
    for (let i = 0; i < runs; i++) {
      // Start each run with no dirty pages, so one run's writeback does not throttle the next.
      await sh('sync; sleep 1')
      const t = performance.now()
      await fn(i)
      ms.push(performance.now() - t)
      await rm(join(work, 'out'), { recursive: true, force: true })
    }
    ms.sort((a, b) => a - b)
    const m = ms[Math.floor(ms.length / 2)]!
    console.log(`${name.padEnd(28)} ${(m / 1000).toFixed(2).padStart(6)} s  ${((size / 1e6) / (m / 1000)).toFixed(0).padStart(5)} MB/s  ${(files / (m / 1000)).toFixed(0).padStart(6)} files/s   [${ms.map((x) => (x / 1000).toFixed(2)).join(' ')}]`)
    return m
  }
  const skiff = (file: string, c: Compression, gzip?: 'zlib' | 'pigz') => async () => {
    const s = new Snapshotter({ root: join(work, 'out') })
    await s.unpack(diffId, decompress(createReadStream(file, { highWaterMark: 256 * 1024 }), c, { gzip }))
  }
  const tarX = await time('tar -xpf (GNU tar)', () => sh(`mkdir ${work}/out && tar --same-owner -xpf ${tar} -C ${work}/out`))
  const none = await time('skiff unpack (none)', skiff(tar, 'none'))
  await time('tar -xzpf (gzip -dc)', () => sh(`mkdir ${work}/out && tar --same-owner -xzpf ${tar}.gz -C ${work}/out`))
  await time('skiff unpack (gzip, zlib)', skiff(`${tar}.gz`, 'gzip', 'zlib'))
  await time('skiff unpack (gzip, pigz)', skiff(`${tar}.gz`, 'gzip', 'pigz'))
  await time('skiff unpack (zstd)', skiff(`${tar}.zst`, 'zstd'))
  console.log(`\nskiff/tar (uncompressed): ${(none / tarX).toFixed(2)}x`)
} finally {
  if (tmpfs) await sh(`umount ${work}`)
  await rm(work, { recursive: true, force: true })
}
