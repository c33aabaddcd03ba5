// Cold pull + unpack of a multi-layer image (≥ 100 MB uncompressed) from a loopback
// docker-registry: skiff next to `podman pull` of the same image, in the same run.
// Runnable alone: `npx tsx bench/pull.ts [--runs N]`.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openDb } from '../src/db/open.js'
import { createImageService } from '../src/images/index.js'
import { image, pushImage, type BuiltLayer } from '../test/fixtures/images.js'
import { buildTar, dir, file, whiteout, type TarEntry } from '../test/fixtures/tar.js'
import { startRegistry } from '../test/helpers/registry.js'
import { podman } from './peers.js'
import { median, row, type BenchRow } from './types.js'

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}` as const

/** Deterministic, compressible text (~3:1 with gzip): words from a fixed random vocabulary. */
function textPool(bytes: number, seed = 7): Buffer {
  let x = seed
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32)
  const vocab = Array.from({ length: 4096 }, () => Array.from({ length: 2 + Math.floor(rnd() * 9) }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join(''))
  const parts: string[] = []
  let n = 0
  while (n < bytes) {
    const w = vocab[Math.floor(rnd() * vocab.length)]! + (rnd() < 0.1 ? '\n' : ' ')
    parts.push(w)
    n += w.length
  }
  return Buffer.from(parts.join('')).subarray(0, bytes)
}

async function gzipFast(tar: Buffer, work: string, name: string): Promise<Buffer> {
  const src = join(work, `${name}.tar`)
  writeFileSync(src, tar)
  const out = join(work, `${name}.tar.gz`)
  await new Promise<void>((res, rej) => {
    const p = spawn('pigz', ['-6', '-c', src], { stdio: ['ignore', 'pipe', 'inherit'] })
    p.stdout.pipe(createWriteStream(out))
    p.on('error', rej)
    p.on('close', (c) => (c === 0 ? setTimeout(res, 50) : rej(new Error(`pigz exited ${c}`))))
  })
  const b = readFileSync(out)
  rmSync(src)
  return b
}

/** 4 layers: many small files, medium files, big files (text + incompressible), a top layer with whiteouts. */
export async function buildBenchImage(work: string): Promise<{ layers: BuiltLayer[]; unpacked: number }> {
  const pool = textPool(8 << 20)
  const slice = (off: number, len: number) => pool.subarray(off % (pool.length - len), (off % (pool.length - len)) + len)
  const l1: TarEntry[] = [dir('usr'), dir('usr/share'), dir('usr/share/doc')]
  for (let i = 0; i < 80; i++) {
    l1.push(dir(`usr/share/doc/pkg${i}`))
    for (let j = 0; j < 100; j++) l1.push(file(`usr/share/doc/pkg${i}/f${j}.txt`, slice(i * 7919 + j * 104729, 1024 + ((i * 31 + j * 17) % 7168))))
  }
  const l2: TarEntry[] = [dir('usr/lib'), dir('usr/lib/app')]
  for (let i = 0; i < 400; i++) l2.push(file(`usr/lib/app/mod${i}.so`, slice(i * 65537, 50_000 + ((i * 7717) % 250_000)), { mode: 0o755 }))
  const l3: TarEntry[] = [dir('opt'), dir('opt/data')]
  for (let i = 0; i < 6; i++) l3.push(file(`opt/data/big${i}.dat`, slice(i * 1_000_003, 5 << 20)))
  l3.push(file('opt/data/random.bin', randomBytes(10 << 20)))
  const l4: TarEntry[] = [whiteout('usr/share/doc/pkg0'), dir('etc'), file('etc/bench', 'top\n')]
  const layers: BuiltLayer[] = []
  let unpacked = 0
  for (const [i, entries] of [l1, l2, l3, l4].entries()) {
    const tar = await buildTar(entries)
    unpacked += tar.length
    const blob = await gzipFast(tar, work, `l${i}`)
    layers.push({ tar: Buffer.alloc(0), blob, diffId: sha(tar), digest: sha(blob), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', compression: 'gzip' })
  }
  return { layers, unpacked }
}

/** What the numbers depend on: cores, load (a shared host), the filesystem both write to. */
function conditions(dir: string): string {
  let fs = '?'
  try {
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '))
    const best = mounts.filter((m) => m[1] && (dir === m[1] || dir.startsWith(m[1].endsWith('/') ? m[1] : `${m[1]}/`))).sort((a, b) => b[1]!.length - a[1]!.length)[0]
    if (best) fs = `${best[2]} on ${best[1]}`
  } catch {
    /* not Linux */
  }
  let cpuSome = '?'
  try {
    cpuSome = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? '?'
  } catch {
    /* no PSI */
  }
  return `${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}, cpu pressure ${cpuSome}%, ${fs}, interleaved runs`
}

export async function benchPull(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 3
  const work = mkdtempSync(join(tmpdir(), 'skiff-bench-pull-'))
  const reg = await startRegistry()
  try {
    process.stderr.write('building the bench image… ')
    const { layers, unpacked } = await buildBenchImage(work)
    const img = image(layers)
    await pushImage(reg, 'bench/big', 'latest', img)
    const ref = `${reg.host}/bench/big:latest`
    const compressed = layers.reduce((a, l) => a + l.blob.length, 0)
    process.stderr.write(`${layers.length} layers, ${(unpacked / 2 ** 20).toFixed(0)} MiB unpacked, ${(compressed / 2 ** 20).toFixed(0)} MiB gzip\n`)

    // Interleaved (skiff, podman, skiff, podman, …) so background load on this shared
    // 2-core host hits both alike.
    const skiffMs: number[] = []
    const podmanMs: number[] = []
    let note: string | undefined
    for (let i = 0; i < runs; i++) {
      const root = mkdtempSync(join(work, 'skiff-'))
      const { db, close } = openDb(join(root, 'state.db'))
      const svc = createImageService({ db, root: join(root, 'images'), registries: { dockerConfig: false } })
      const t0 = performance.now()
      const got = await svc.pull(ref)
      skiffMs.push(performance.now() - t0)
      if (got.id !== img.configDigest) throw new Error('bench: wrong image pulled')
      await svc.close()
      close()
      rmSync(root, { recursive: true, force: true })
      process.stderr.write(`skiff pull #${i + 1}: ${skiffMs.at(-1)!.toFixed(0)} ms\n`)
      if (note) continue
      const p = podman()
      if (!p.available) {
        note = 'podman not installed'
        continue
      }
      try {
        const t1 = performance.now()
        const r = p.run(['pull', '-q', '--tls-verify=false', ref])
        const ms = performance.now() - t1
        if (r.status !== 0) note = `podman pull failed: ${r.stderr.trim().slice(-200)}`
        else {
          podmanMs.push(ms)
          process.stderr.write(`podman pull #${i + 1}: ${ms.toFixed(0)} ms\n`)
        }
      } finally {
        p.cleanup()
      }
    }
    const mib = (unpacked / 2 ** 20).toFixed(0)
    const runsNote = `skiff ${skiffMs.map((m) => m.toFixed(0)).join('/')} ms, podman ${podmanMs.map((m) => m.toFixed(0)).join('/') || 'n/a'} ms`
    return [
      row(`pull: cold pull+unpack, ${layers.length} layers, ${mib} MiB (median of ${runs})`, median(skiffMs), 'podman pull', podmanMs.length ? median(podmanMs) : null, note ?? `target ≤ 0.5x; ${runsNote}; ${conditions(work)}`),
    ]
  } finally {
    await reg.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--runs')
  const rows = await benchPull({ runs: i > 0 ? Number(process.argv[i + 1]) : undefined })
  for (const r of rows) {
    console.log(r.name)
    console.log(`  skiff ${r.skiff_ms} ms | ${r.peer} ${r.peer_ms ?? 'n/a'} ms | RATIO skiff/${r.peer} = ${r.ratio ?? 'n/a'}${r.ratio !== null ? (r.ratio <= 0.5 ? '  (meets ≤ 0.5)' : '  (MISSES ≤ 0.5)') : ''}`)
    if (r.note) console.log(`  ${r.note}`)
  }
  console.log(JSON.stringify(rows))
}
