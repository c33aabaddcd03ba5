// Log throughput: 100 MB of pseudo-random bytes from a container's write to a
// WebSocket client's receive (client in its own process, checking the sha256),
// next to `podman logs -f` of the same output. Target ≥ 200 MB/s.
// Standalone: npx tsx bench/logs.ts
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PACKAGE_ROOT } from '../src/lib/paths.js'
import { createLogStore } from '../src/logs/index.js'
import { pseudoRandom, sha256 } from '../test/integration/logs/blob.js'
import { makeBundle, runContainer } from '../test/integration/logs/container.js'
import { JobTable, startLogServer, TOKEN } from '../test/integration/logs/server.js'
import { podman, PODMAN_ULIMITS } from './peers.js'
import { row, median, type BenchRow } from './types.js'

const SIZE = 100_000_000
const RUNS = 3

const CLIENT = `
import { createHash } from 'node:crypto'
const { default: WebSocket } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'node_modules/ws/wrapper.mjs')).href)})
const h = createHash('sha256'); let n = 0, msgs = 0
const ws = new WebSocket(process.argv[1], ['bearer.' + process.argv[2]])
ws.on('open', () => process.stdout.write('open\\n'))
ws.on('message', (raw) => {
  const m = JSON.parse(raw.toString())
  if (m.exit) return
  const b = m.data64 !== undefined ? Buffer.from(m.data64, 'base64') : Buffer.from(m.data, 'utf8')
  n += b.length; h.update(b); msgs++
})
ws.on('close', () => { process.stdout.write('done ' + n + ' ' + h.digest('hex') + '\\n') })
`

/** A WS client process following `job`; resolves `opened` once connected and `done` with its byte count and sha256. */
function clientProcess(url: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CLIENT, url, TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let openedR!: () => void
  const opened = new Promise<void>((r) => (openedR = r))
  const done = new Promise<{ bytes: number; sha: string; at: number }>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('open\n')) openedR()
      const m = /done (\d+) ([0-9a-f]+)/.exec(out)
      if (m) resolve({ bytes: Number(m[1]), sha: m[2]!, at: performance.now() })
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
  const skiff: number[] = []
  const peer: number[] = []
  let peerNote = ''
  try {
    for (let i = 0; i < RUNS; i++) {
      const id = `bench${i}`
      jobs.add(id)
      logs.pathFor(id)
      const client = clientProcess(`ws://127.0.0.1:${srv.port}/jobs/${id}/logs/ws`)
      await client.opened
      const t0 = performance.now()
      const c = await runContainer(bundle, ['cat', '/data/blob'], logs.pathFor(id))
      void c.exited.then((code) => jobs.finish(id, code))
      const r = await client.done
      await c.cleanup()
      if (r.bytes !== SIZE || r.sha !== want) throw new Error(`bench: client got ${r.bytes} bytes, sha ${r.sha} (want ${want})`)
      skiff.push(r.at - t0)
      process.stderr.write(`skiff run ${i}: ${(r.at - t0).toFixed(0)} ms (${(SIZE / 1e6 / ((r.at - t0) / 1000)).toFixed(0)} MB/s)\n`)
      await logs.remove(id)
    }

    const p = podman()
    if (p.available) {
      try {
        const tar = join(root, 'rootfs.tar')
        await new Promise<void>((res, rej) => spawn('tar', ['-C', bundle.rootfs, '-cf', tar, '.'], { stdio: 'ignore' }).on('exit', (c) => (c ? rej(new Error(`tar ${c}`)) : res())))
        const imp = p.run(['import', tar, 'skiff-bench-logs:latest'])
        if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`)
        for (let i = 0; i < RUNS; i++) {
          const t0 = performance.now()
          const run = p.run(['run', '-d', '--log-driver', 'k8s-file', '--network', 'none', ...PODMAN_ULIMITS, 'skiff-bench-logs:latest', 'cat', '/data/blob'])
          if (run.status !== 0) throw new Error(`podman run: ${run.stderr}`)
          const cid = run.stdout.trim()
          // podman logs -f through a pipe, counting bytes (same consumer work: receive all bytes)
          const r = p.run(['logs', '-f', cid])
          const ms = performance.now() - t0
          peer.push(ms)
          if (r.status !== 0) throw new Error(`podman logs: ${r.stderr}`)
          peerNote = 'podman: run -d, then logs -f into a pipe until it ends'
          process.stderr.write(`podman run ${i}: ${ms.toFixed(0)} ms\n`)
          p.run(['rm', '-f', cid])
        }
      } catch (e) {
        peerNote = `podman failed: ${(e as Error).message.slice(0, 200)}`
      } finally {
        p.cleanup()
      }
    }
  } finally {
    await srv.close()
    logs.close()
    bundle.remove()
    rmSync(root, { recursive: true, force: true })
  }
  const s = median(skiff)
  const mbps = (ms: number) => (SIZE / 1e6 / (ms / 1000)).toFixed(0)
  return [row('logs: 100 MB container→WS client', s, 'podman run -d + logs -f', peer.length ? median(peer) : null, `skiff ${mbps(s)} MB/s${peer.length ? `, podman ${mbps(median(peer))} MB/s` : ''}; ${peerNote}`.trim())]
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchLogs()
  console.log(JSON.stringify(rows, null, 2))
}
