// In its own file (own worker process) so the RSS baseline is not hidden by
// heap slack left behind by other tests.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, expect, it } from 'vitest'
import { createLogStore } from '../../../src/logs/index.js'
import { pseudoRandom } from './blob.js'
import { makeBundle, runContainer, type RunningContainer } from './container.js'
import { JobTable, startLogServer, TOKEN } from './server.js'
import { wsFollow } from './ws-client.js'

const MB = 1_000_000
const root = mkdtempSync(join(tmpdir(), 'skiff-logs-stall-'))
const bundle = makeBundle()
bundle.put('data/blob', pseudoRandom(100 * MB))
const logs = createLogStore({ root: join(root, 'logs'), maxBytes: 1024 * 1024 * 1024 })
const jobs = new JobTable()
const running: RunningContainer[] = []

afterAll(async () => {
  logs.close()
  for (const c of running) await c.cleanup()
  bundle.remove()
  rmSync(root, { recursive: true, force: true })
})

it.each(['json', 'binary'] as const)('a stalled WebSocket follower (%s) does not grow daemon memory (RSS ceiling), and others are not held up', async (format) => {
  const srv = await startLogServer(logs, jobs, { highWaterMark: Number(process.env.SKIFF_TEST_HWM ?? 1024 * 1024) })
  try {
    const base = process.memoryUsage().rss
    const id = `big-${format}`
    jobs.add(id)
    const c = await runContainer(bundle, ['sh', '-c', 'cat /data/blob'], logs.pathFor(id))
    running.push(c)
    void c.exited.then((code) => jobs.finish(id, code))
    // A client that completes the handshake and then never reads: its socket buffers fill up.
    const stalled = new WebSocket(`ws://127.0.0.1:${srv.port}/jobs/${id}/logs/ws?format=${format}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    await new Promise((r) => stalled.once('open', r))
    ;(stalled as unknown as { _socket: { pause(): void } })._socket.pause()
    let peak = base
    const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10)
    await c.exited
    await new Promise((r) => setTimeout(r, 1000))
    // a healthy follower of the same job still gets everything while the stalled one hangs on
    const ok = await wsFollow(srv.port, id, { stopAfter: 5 * MB, format })
    clearInterval(t)
    stalled.terminate()
    const growth = (peak - base) / MB
    console.log(`stalled ${format} follower: RSS growth ${growth.toFixed(1)} MB while the job wrote 100 MB`)
    expect(ok.bytes).toBeGreaterThanOrEqual(5 * MB)
    // Without backpressure the server queues ≥ 133 MB of base64 JSON for the stalled socket.
    expect(growth).toBeLessThan(64)
  } finally {
    await srv.close()
  }
})
