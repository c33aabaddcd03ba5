// Log throughput: 100 MB of pseudo-random bytes from a container's write to a
// WebSocket client's receive (client in its own process, checking the sha256),
// in both wire formats (?format=binary frames and JSON text messages),
// next to `podman logs -f` (and `docker logs -f`, when docker.io is installed) of
// the same output. Target ≥ 200 MB/s.
// Standalone: npx tsx bench/logs.ts
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { createLogStore } from '../src/logs/index.js'
import { pseudoRandom, sha256 } from '../test/integration/logs/blob.js'
import { makeBundle, runContainer } from '../test/integration/logs/container.js'
import { JobTable, startLogServer, TOKEN } from '../test/integration/logs/server.js'
import { docker, podman, PODMAN_ULIMITS } from './peers.js'
import { row, median, type BenchRow } from './types.js'

const SIZE = 100_000_000
const RUNS = Number(process.env.SKIFF_BENCH_RUNS ?? 5)
type Mode = 'binary' | 'json'
const MODES = (process.env.SKIFF_BENCH_MODES ?? 'binary,json').split(',') as Mode[]

// The client does what a real consumer must: decode every message and hash the bytes.
const CLIENT = `
import { createHash } from 'node:crypto'
const { default: WebSocket } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'node_modules/ws/wrapper.mjs')).href)})
const { decodeFrame } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'src/logs/frame.ts')).href)})
const h = createHash('sha256'); let n = 0, msgs = 0, next = 0, bad = 0, first = 0, last = 0
const ws = new WebSocket(process.argv[1], { headers: { authorization: 'Bearer ' + process.argv[2] } })
ws.on('open', () => process.stdout.write('open\\n'))
ws.on('message', (raw, isBinary) => {
  let off, b
  if (isBinary) {
    const f = decodeFrame(raw); off = f.offset; b = f.data
  } else {
    const m = JSON.parse(raw.toString())
    if (m.exit || m.dropped) return
    off = m.offset; b = m.data64 !== undefined ? Buffer.from(m.data64, 'base64') : Buffer.from(m.data, 'utf8')
  }
  if (off !== next) bad++
  next = off + b.length; n += b.length; h.update(b); msgs++
  last = Date.now(); if (!first) first = last
})
ws.on('close', () => { process.stdout.write('done ' + n + ' ' + h.digest('hex') + ' ' + msgs + ' ' + bad + ' ' + first + ' ' + last + ' ' + Date.now() + '\\n') })
`

/** `<peer> run -d … cat /data/blob`, then `<peer> logs -f` into a pipe until it
 *  ends (the same consumer work: receive every byte), RUNS times. podman 4.3's
 *  `logs -f` stops at the container's exit and drops the rest (≈22 of 100 MB
 *  here); docker's json-file turns invalid UTF-8 into U+FFFD (186 MB for 100).
 *  A peer that does not deliver the bytes exactly is timed instead as a
 *  foreground `run` (output through its attach socket), and the note says so. */
async function peerLogsFollow(name: string, p: { run(args: string[]): { status: number | null; stdout: string; stderr: string }; cleanup(): void }, tar: string, runFlags: string[]): Promise<{ ms: number[]; note: string }> {
  const ms: number[] = []
  const partial: number[] = []
  const must = (r: { status: number | null; stderr: string }, what: string) => {
    if (r.status !== 0) throw new Error(`${name} ${what}: ${r.stderr}`)
  }
  try {
    must(p.run(['import', tar, 'skiff-bench-logs:latest']), 'import')
    const cat = ['--network', 'none', ...runFlags, 'skiff-bench-logs:latest', 'cat', '/data/blob']
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      const run = p.run(['run', '-d', ...cat])
      must(run, 'run')
      const cid = run.stdout.trim()
      const r = p.run(['logs', '-f', cid])
      const t = performance.now() - t0
      must(r, 'logs')
      // the run helpers decode as latin1: length = bytes
      if (r.stdout.length === SIZE) ms.push(t)
      else partial.push(r.stdout.length)
      process.stderr.write(`${name} run ${i}: logs -f ${t.toFixed(0)} ms, ${r.stdout.length} bytes\n`)
      p.run(['rm', '-f', cid])
    }
    if (!partial.length) return { ms, note: `${name}: run -d, then logs -f into a pipe until it ends` }
    ms.length = 0
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now()
      const r = p.run(['run', '--rm', ...cat])
      const t = performance.now() - t0
      must(r, 'run (attached)')
      if (r.stdout.length !== SIZE) throw new Error(`${name} run (attached): ${r.stdout.length} of ${SIZE} bytes`)
      ms.push(t)
      process.stderr.write(`${name} attached run ${i}: ${t.toFixed(0)} ms\n`)
    }
    const got = median(partial)
    const why = got < SIZE ? "stopped at the container's exit" : 'binary output re-encoded, invalid UTF-8 as U+FFFD'
    return { ms, note: `${name} logs -f gave ${(got / 1e6).toFixed(0)} MB for ${SIZE / 1e6} MB (${why}), so timed as a foreground run (attach socket) instead` }
  } catch (e) {
    return { ms: [], note: `${name} failed: ${(e as Error).message.slice(0, 200)}` }
  } finally {
    p.cleanup()
  }
}

/** A WS client process following `job`; resolves `opened` once connected and `done` with its byte count and sha256. */
function clientProcess(url: string) {
  const child = spawn(process.execPath, [...(process.env.SKIFF_BENCH_CLIENT_FLAGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', '--input-type=module', '-e', CLIENT, url, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'], cwd: PACKAGE_ROOT })
  let out = ''
  let openedR!: () => void
  const opened = new Promise<void>((r) => (openedR = r))
  const done = new Promise<{ bytes: number; sha: string; msgs: number; gaps: number; first: number; last: number; closed: number; at: number }>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('open\n')) openedR()
      const m = /done (\d+) ([0-9a-f]+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out)
      if (m) resolve({ bytes: Number(m[1]), sha: m[2]!, msgs: Number(m[3]), gaps: Number(m[4]), first: Number(m[5]), last: Number(m[6]), closed: Number(m[7]), at: performance.now() })
    })
    child.on('exit', (code) => code && reject(new Error(`client exited ${code}`)))
  })
  return { opened, done }
}

export async function benchLogs(): Promise<BenchRow[]> {
  const root = mkdtempSync(join(tmpdir(), 'skiff-bench-logs-'))
  const blob = pseudoRandom(SIZE)
  const want = sha256(blob)
  const bundle = makeBundle()
  bundle.put('data/blob', blob)
  const logs = createLogStore({ root: join(root, 'logs'), maxBytes: 1 << 30 })
  const jobs = new JobTable()
  const srv = await startLogServer(logs, jobs)
  const skiff: Record<Mode, number[]> = { binary: [], json: [] }
  const msgs: Record<Mode, number> = { binary: 0, json: 0 }
  const peer: number[] = []
  let peerNote = ''
  const dockerMs: number[] = []
  let dockerNote = ''
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const mode of MODES) {
        const id = `bench-${mode}-${i}`
        jobs.add(id)
        logs.pathFor(id)
        const client = clientProcess(`ws://127.0.0.1:${srv.port}/jobs/${id}/logs/ws?format=${mode}`)
        await client.opened
        const t0 = performance.now()
        const e0 = Date.now()
        const c = await runContainer(bundle, ['cat', '/data/blob'], logs.pathFor(id))
        const started = Date.now()
        let exitedAt = 0
        void c.exited.then((code) => ((exitedAt = Date.now()), jobs.finish(id, code)))
        const r = await client.done
        if (process.env.SKIFF_BENCH_VERBOSE) process.stderr.write(`  started +${started - e0} first data +${r.first - e0} exit seen +${exitedAt - e0} last data +${r.last - e0} closed +${r.closed - e0}\n`)
        await c.cleanup()
        if (r.bytes !== SIZE || r.sha !== want || r.gaps) throw new Error(`bench: ${mode} client got ${r.bytes} bytes, ${r.gaps} offset gaps, sha ${r.sha} (want ${want})`)
        skiff[mode].push(r.at - t0)
        msgs[mode] = r.msgs
        process.stderr.write(`skiff ${mode} run ${i}: ${(r.at - t0).toFixed(0)} ms (${(SIZE / 1e6 / ((r.at - t0) / 1000)).toFixed(0)} MB/s, ${r.msgs} messages)\n`)
        await logs.remove(id)
      }
    }

    const tar = join(root, 'rootfs.tar')
    const rootfsTar = async () => {
      if (!existsSync(tar)) await new Promise<void>((res, rej) => spawn('tar', ['-C', bundle.rootfs, '-cf', tar, '.'], { stdio: 'ignore' }).on('exit', (c) => (c ? rej(new Error(`tar ${c}`)) : res())))
      return tar
    }
    // SKIFF_BENCH_PODMAN=0 / SKIFF_BENCH_DOCKER=0 skip a peer (quick iterations); each makes a temp dir, so decide first
    const p = process.env.SKIFF_BENCH_PODMAN === '0' ? undefined : podman()
    if (p?.available) {
      const r = await peerLogsFollow('podman', p, await rootfsTar(), ['--log-driver', 'k8s-file', ...PODMAN_ULIMITS])
      peer.push(...r.ms)
      peerNote = r.note
    }
    const dk = process.env.SKIFF_BENCH_DOCKER === '0' ? undefined : docker()
    if (dk?.available) {
      const r = await peerLogsFollow('docker', dk, await rootfsTar(), [])
      dockerMs.push(...r.ms)
      dockerNote = r.note
    } else dockerNote = `docker: ${dk?.why ?? 'SKIFF_BENCH_DOCKER=0'}`
  } finally {
    await srv.close()
    logs.close()
    bundle.remove()
    rmSync(root, { recursive: true, force: true })
  }
  const mbps = (ms: number) => (SIZE / 1e6 / (ms / 1000)).toFixed(0)
  const pm = peer.length ? median(peer) : null
  const dm = dockerMs.length ? median(dockerMs) : null
  if (dm) dockerNote = `docker ${mbps(dm)} MB/s (${dm.toFixed(0)} ms; ${dockerNote})`
  return MODES.map((mode) => {
    const s = median(skiff[mode])
    const note = `skiff ${mbps(s)} MB/s (${mode} frames, ${msgs[mode]} messages, client decodes + sha256)${pm ? `, podman ${mbps(pm)} MB/s` : ''}; median of ${RUNS} (each: ${skiff[mode].map((x) => x.toFixed(0)).join(', ')} ms); load ${loadavg()[0]!.toFixed(1)} on 2 cores; ${[peerNote, dockerNote].filter(Boolean).join('; ')}`
    return row(`logs: 100 MB container→WS client (${mode})`, s, 'podman (every byte delivered)', pm, note.trim())
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchLogs()
  console.log(JSON.stringify(rows, null, 2))
}
