// Per-connection services (issue #10): connect → first byte of a fresh
// container, for the same challenge (busybox `sh -c 'echo ready; exec cat'`)
// served three ways in the same run, all on 127.0.0.1:
//   - skiff: a `listen: {per_connection: true}` job; each connection is a job
//     (submit → dispatch → overlay + conmon + crun → stdin over the attach
//     socket, output followed from its log);
//   - bare `crun run` behind a forking server: each connection spawns
//     `crun run` of a bundle prepared once, the socket as its stdin/stdout
//     (the container's own cost, no job, no log, no overlay);
//   - the floor: the same binary behind a forking server with no container
//     (xinetd's fork + exec, the socket as fd 0/1).
// Each connection sends one line, half-closes and reads to the end, so every
// container has exited before the next connection (and skiff's teardown of the
// last connection's container is let finish outside the timing).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'
import { busyboxRootfs, crunBundle } from './fixtures.js'
import { median, row, type BenchRow } from './types.js'

const SCRIPT = 'echo ready; exec cat'

/** One connection: ms from connect() to the first byte, after checking the whole exchange. */
function connectToFirstByte(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    let first = 0
    let got = ''
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    s.on('data', (b: Buffer) => {
      if (!first) {
        first = performance.now() - t0
        s.end('x\n')
      }
      got += b.toString()
    })
    s.on('end', () => {
      s.destroy()
      if (got !== 'ready\nx\n') reject(new Error(`unexpected answer ${JSON.stringify(got)}`))
      else resolve(first)
    })
    s.on('error', reject)
  })
}

/** xinetd's shape: fork + exec per connection, the socket as the child's stdin and stdout. */
function forkingServer(argv: string[]): Promise<{ port: number; server: Server; children: Set<ReturnType<typeof spawn>> }> {
  const children = new Set<ReturnType<typeof spawn>>()
  const server = createServer({ pauseOnConnect: true }, (sock) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: [sock, sock, 'ignore'] })
    children.add(c)
    c.on('exit', () => children.delete(c))
    // the child holds the connection now
    sock.destroy()
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, server, children })))
}

async function timeAll(port: number, runs: number, between?: () => Promise<void>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < runs + 3; i++) {
    const ms = await connectToFirstByte(port)
    if (i >= 3) out.push(ms)
    await between?.()
  }
  return out
}

export async function benchPerConnection(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 30
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-pc-'))
  const rootfs = busyboxRootfs(dir)
  const rows: BenchRow[] = []
  try {
    // the floor: the challenge binary (busybox-static) straight on the host
    const floor = await forkingServer([join(rootfs, 'bin/busybox'), 'sh', '-c', SCRIPT])
    const floorMs = await timeAll(floor.port, runs).finally(() => floor.server.close())

    // bare crun run of a prepared bundle per connection
    const bundle = crunBundle(dir, rootfs, ['/bin/sh', '-c', SCRIPT])
    const state = join(dir, 'crun-state')
    const crun = await forkingServer(['sh', '-c', `exec crun --root ${state} run --bundle ${bundle} pc$$`])
    const crunMs = await timeAll(crun.port, runs).finally(() => crun.server.close())

    // skiff: a per-connection listener job
    const d = await startDaemon()
    try {
      await importBusybox(d)
      const port = await freePort()
      const r = await d.api('POST', '/run', { image: 'busybox', cmd: SCRIPT, listen: { port, per_connection: true } })
      if (r.status !== 201) throw new Error(`listener: ${r.text}`)
      for (let i = 0; i < 400 && (await d.api('GET', `/jobs/${r.json.id}`)).json.state !== 'running'; i++) await new Promise((res) => setTimeout(res, 25))
      // the last connection's container torn down before the next connects (outside the timing)
      const settled = async () => {
        for (let i = 0; i < 400; i++) {
          const items = (await d.api('GET', `/jobs?parent=${r.json.id}&state=queued,pulling,starting,running&limit=1`)).json.items
          if (!items.length) break
          await new Promise((res) => setTimeout(res, 5))
        }
        await new Promise((res) => setTimeout(res, 20))
      }
      const skiffMs = await timeAll(port, runs, settled)
      const s = median(skiffMs)
      process.stderr.write(`per-connection connect→first byte: skiff ${s.toFixed(1)} ms, bare crun run ${median(crunMs).toFixed(1)} ms, no container ${median(floorMs).toFixed(1)} ms\n`)
      rows.push(row(`per-connection: connect→first byte, fresh container (median of ${runs})`, s, 'crun run (bare) per connection', median(crunMs), 'target ≤ 3× bare crun run'))
      rows.push(row('per-connection: connect→first byte', s, 'forking server, no container', median(floorMs), 'the floor: fork + exec of the same binary'))
    } finally {
      await d.stop()
      removeDataDir(d.dataDir)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await benchPerConnection())
