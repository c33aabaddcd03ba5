import { createServer, request as httpRequest, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeDataDir, startDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { startRegistry, type TestRegistry } from '../../helpers/registry.js'
import { busyboxRootfs, image, layer, pushImage, seed } from '../../fixtures/images.js'

// A counting pass-through in front of a real docker-registry, so the test can see
// how many manifest and blob requests 50 concurrent runs of an uncached image make.
let reg: TestRegistry
let proxy: Server
let proxyHost: string
const hits = { manifests: 0, blobs: 0 }
let d: TestDaemon

beforeAll(async () => {
  reg = await startRegistry()
  await seed(reg)
  proxy = createServer((req, res) => {
    if (/\/manifests\//.test(req.url ?? '') && req.method === 'GET') hits.manifests++
    if (/\/blobs\//.test(req.url ?? '') && req.method === 'GET') hits.blobs++
    const up = httpRequest(`${reg.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: reg.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  proxyHost = `127.0.0.1:${(proxy.address() as { port: number }).port}`
  d = await startDaemon({ maxConcurrent: 16 })
}, 120_000)

afterAll(async () => {
  await d?.stop()
  if (d) removeDataDir(d.dataDir)
  await new Promise((r) => proxy?.close(r))
  await reg?.stop()
})

describe('pull on run', () => {
  it('50 concurrent runs of an uncached image make one pull, and all run', async () => {
    const image = `${proxyHost}/fixtures/multi:latest`
    const ids = await Promise.all(Array.from({ length: 50 }, () => d.api('POST', '/run', { image, cmd: ['cat', '/etc/motd'] }).then((r) => r.json.id as string)))
    const done = await Promise.all(ids.map((id) => d.api('POST', `/jobs/${id}/wait?timeout=60s`).then((r) => r.json)))
    for (const j of done) expect(j).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'top layer\n' })
    // one manifest GET for the tag (+ at most one for a digest re-check), and each of
    // the 3 layers + the config exactly once
    expect(hits.manifests).toBeLessThanOrEqual(2)
    expect(hits.blobs).toBe(4)
  }, 120_000)

  it('runs the image with its config: Entrypoint, Cmd, whiteouts and the opaque dir', async () => {
    const image = `${proxyHost}/fixtures/schema2:latest`
    const r = await d.api('POST', '/run?wait=true', { image })
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'schema2\n' })
    const m = await d.api('POST', '/run?wait=true', { image: `${proxyHost}/fixtures/multi:latest`, cmd: 'ls /data /opt/dir; test -e /etc/deleteme || echo gone' })
    expect(m.json.stdout).toBe('/data:\nb\n\n/opt/dir:\ny\ngone\n')
  })

  it('an image with neither Entrypoint nor Cmd: 400 NO_COMMAND when local, a job failed with NO_COMMAND when it must be pulled', async () => {
    const bare = image([await layer(busyboxRootfs(), 'gzip')], { config: { Cmd: undefined } })
    await pushImage(reg, 'fixtures/nocmd', 'latest', bare)
    const ref = `${reg.host}/fixtures/nocmd:latest`
    const r = await d.api('POST', '/run?wait=true', { image: ref })
    expect(r.status, r.text).toBe(200)
    expect(r.json).toMatchObject({ state: 'failed', reason: 'NO_COMMAND' })
    const again = await d.api('POST', '/run', { image: ref })
    expect(again.status).toBe(400)
    expect(again.json.error).toMatchObject({ code: 'NO_COMMAND', field: 'cmd' })
  })
})
