import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../../../src/db/open.js'
import { EventBus } from '../../../src/events.js'
import { createApp } from '../../../src/http/app.js'
import { Metrics } from '../../../src/http/metrics.js'
import { listen, type Listeners } from '../../../src/http/server.js'
import type { ImagesApi } from '../../../src/http/ports.js'
import { SkiffError } from '../../../src/lib/errors.js'
import { realClock } from '../../../src/lib/clock.js'
import { silentLogger } from '../../../src/lib/log.js'
import { JobRepo } from '../../../src/scheduler/job-repo.js'
import { JobService } from '../../../src/scheduler/jobs.js'
import { FakeRuntime, fakeImage } from '../../helpers/fakes.js'
import { waitFor } from '../../helpers/wait.js'

// The HTTP layer over real sockets (unix + loopback TCP) with the real scheduler
// and SQLite; only the container runtime and registry are fakes here (unit
// project: no root). test/integration/http runs the same API on real crun.
const TOKEN = 'test-token-0123456789abcdef'
let dir: string
let ls: Listeners
let closeDb: () => void
let unix: Agent
let base: string

const images: ImagesApi & { lowerDirs(): Promise<string[]> } = {
  lowerDirs: async () => ['/lower'],
  pull: async (ref) => {
    if (ref.includes('missing')) throw new SkiffError('failed_precondition', 'IMAGE_NOT_FOUND', `image ${ref} not found in registry`)
    return fakeImage
  },
  resolve: (ref) => (ref.includes('missing') ? undefined : fakeImage),
  list: () => [fakeImage],
  remove: async () => {},
  prune: async () => ({ images: 0, layers: 0, bytes: 0 }),
  load: async () => [],
  save: async () => {},
  importRootfs: async () => fakeImage,
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-api-'))
  const o = openDb(join(dir, 'state.db'))
  closeDb = o.close
  const repo = new JobRepo(o.db)
  const events = new EventBus()
  const jobs = new JobService({
    repo, images, runtime: new FakeRuntime((s) => ({ ms: s.process.args[0] === 'sleep' ? 60_000 : 1, exit: { exitCode: s.process.args[0] === 'fail' ? 3 : 0 } })),
    logs: { pathFor: (id) => join(dir, id), remove: async () => {}, end: async () => 0 },
    clock: realClock, log: silentLogger, events, limits: { maxConcurrent: 4, maxMemory: 0, maxQueued: 100 },
  })
  await jobs.boot()
  const metrics = new Metrics({ jobsByState: () => repo.countByState(), queueDepth: () => jobs.queueDepth, running: () => jobs.runningCount })
  const app = createApp({ jobs, images, logs: { output: async () => ({ stdout: 'hi\n', stderr: '', truncated: false }) }, events, metrics, log: silentLogger, token: () => TOKEN, bodyLimit: 64 * 1024 })
  ls = await listen(app, { socket: join(dir, 'api.sock'), listen: '127.0.0.1:0' })
  // no keep-alive: on a loaded machine a pooled connection can expire on the server just as it is reused (ECONNRESET)
  unix = new Agent({ connect: { socketPath: join(dir, 'api.sock') }, pipelining: 0 })
  base = `http://127.0.0.1:${ls.tcpAddress!.port}`
})
afterAll(async () => {
  await ls?.close()
  await unix?.close()
  closeDb?.()
  rmSync(dir, { recursive: true, force: true })
})

const viaUnix = async (method: string, path: string, body?: unknown) => {
  const r = await request(`http://localhost${path}`, { method: method as 'GET', dispatcher: unix, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await r.body.text()
  return { status: r.statusCode, json: text && r.headers["content-type"]?.toString().includes("json") ? JSON.parse(text) : undefined, text }
}
const viaTcp = async (method: string, path: string, token?: string, body?: unknown) => {
  const r = await request(base + path, { method: method as 'GET', headers: token ? { authorization: `Bearer ${token}` } : {}, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.body.text()
  return { status: r.statusCode, json: text && r.headers["content-type"]?.toString().includes("json") ? JSON.parse(text) : undefined, text }
}

describe('POST /run', () => {
  it('runs and answers with exit code and output when ?wait=true', async () => {
    const r = await viaUnix('POST', '/run?wait=true', { image: 'busybox', cmd: ['echo', 'hi'] })
    expect(r.status).toBe(200)
    expect(r.json, JSON.stringify(r.json)).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'hi\n' })
    const got = await viaUnix('GET', `/jobs/${r.json.id}`)
    expect(got.json).toMatchObject({ id: r.json.id, state: 'exited', cmd: ['echo', 'hi'] })
  })

  it('answers 201 with links without wait', async () => {
    const r = await viaUnix('POST', '/run', { image: 'busybox', cmd: 'echo hi' })
    expect(r.status).toBe(201)
    expect(r.json.cmd).toEqual(['/bin/sh', '-c', 'echo hi'])
    expect(r.json.links).toEqual({ self: `/jobs/${r.json.id}`, logs: `/jobs/${r.json.id}/logs`, ws: `/jobs/${r.json.id}/logs/ws`, attempts: `/jobs/${r.json.id}/attempts` })
  })

  it.each([
    [{}, 'image'],
    [{ image: '' }, 'image'],
    [{ image: 'x', cmd: 5 }, 'cmd'],
    [{ image: 'x', cmd: [] }, 'cmd'],
    [{ image: 'x', env: { 'A=B': '1' } }, 'env.A=B'],
    [{ image: 'x', env: { A: 1 } }, 'env.A'],
    [{ image: 'x', workdir: 'relative' }, 'workdir'],
    [{ image: 'x', user: 'bad user' }, 'user'],
    [{ image: 'x', name: '-bad' }, 'name'],
    [{ image: 'x', labels: { a: 1 } }, 'labels.a'],
    [{ image: 'x', limits: { memory: 'lots' } }, 'limits.memory'],
    [{ image: 'x', limits: { memory: '1k' } }, 'limits.memory'],
    [{ image: 'x', limits: { cpus: -1 } }, 'limits.cpus'],
    [{ image: 'x', limits: { pids: 0 } }, 'limits.pids'],
    [{ image: 'x', limits: { timeout: 'soon' } }, 'limits.timeout'],
    [{ image: 'x', limits: { swap: '1g' } }, 'limits.swap'],
    [{ image: 'x', network: { mode: 'bridge0' } }, 'network.mode'],
    [{ image: 'x', pull: 'sometimes' }, 'pull'],
    [{ image: 'x', bogus: true }, 'bogus'],
    [{ image: 'x', hostname: 'no_underscores' }, 'hostname'],
    [{ image: 'x', listen: { per_connection: true } }, 'listen.port'],
    [{ image: 'x', listen: { port: 0, per_connection: true } }, 'listen.port'],
    [{ image: 'x', listen: { port: 70000, per_connection: true } }, 'listen.port'],
    [{ image: 'x', listen: { port: 9000 } }, 'listen.per_connection'],
    [{ image: 'x', listen: { port: 9000, per_connection: false } }, 'listen.per_connection'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, max_connections: 0 } }, 'listen.max_connections'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, timeout: 'soon' } }, 'listen.timeout'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, timeout: 0 } }, 'listen.timeout'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, host_ip: 'localhost' } }, 'listen.host_ip'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, backlog: 5 } }, 'listen.backlog'],
    [{ image: 'x', listen: { port: 9000, per_connection: true }, ports: ['8080:80'] }, 'listen'],
    [{ image: 'x', listen: { port: 9000, per_connection: true }, tty: true }, 'tty'],
    [{ image: 'x', listen: { port: 9000, per_connection: true }, stdin: 'x' }, 'stdin'],
    [{ image: 'x', listen: { port: 9000, per_connection: true }, interactive: true }, 'interactive'],
    [{ image: 'x', listen: { port: 9000, per_connection: true, keep: -1 } }, 'listen.keep'],
    [{ image: 'x', listen: { port: 9000, per_connection: true }, healthcheck: { cmd: 'true' } }, 'healthcheck'],
  ])('400 naming the field for %j', async (body, field) => {
    const r = await viaUnix('POST', '/run', body)
    expect(r.status).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field })
    expect(r.json.error.message).toContain(field)
  })

  it('400 for malformed JSON', async () => {
    const r = await viaUnix('POST', '/run', '{"image":')
    expect(r.status).toBe(400)
    expect(r.json.error.code).toBe('INVALID_JSON')
  })

  it('413 for a body over the limit, closing the connection (its unread body would poison a reused one)', async () => {
    const r = await request('http://localhost/run', { method: 'POST', dispatcher: unix, body: JSON.stringify({ image: 'x', stdin: 'a'.repeat(100 * 1024) }) })
    expect(r.statusCode).toBe(413)
    expect(r.headers.connection).toBe('close')
    expect(((await r.body.json()) as { error: { code: string } }).error.code).toBe('BODY_TOO_LARGE')
    // the next requests on the same client still work
    for (let i = 0; i < 5; i++) expect((await viaUnix('GET', '/healthz')).status).toBe(200)
  })

  it('409 when the name is taken', async () => {
    expect((await viaUnix('POST', '/run', { image: 'x', name: 'unique-one', cmd: ['sleep'] })).status).toBe(201)
    const r = await viaUnix('POST', '/run', { image: 'x', name: 'unique-one', cmd: ['true'] })
    expect(r.status).toBe(409)
    expect(r.json.error).toMatchObject({ code: 'NAME_IN_USE', field: 'name' })
  })

  it('a job whose image is missing in the registry fails with the reason, and pull says 422', async () => {
    const r = await viaUnix('POST', '/run?wait=true', { image: 'missing/img' })
    expect(r.json).toMatchObject({ state: 'failed', reason: 'IMAGE_NOT_FOUND' })
    const p = await viaUnix('POST', '/images/pull', { image: 'missing/img' })
    expect(p.status).toBe(422)
  })
})

describe('auth', () => {
  it('TCP without a token is 401', async () => {
    const r = await viaTcp('GET', '/jobs')
    expect(r.status).toBe(401)
    expect(r.json.error.code).toBe('UNAUTHENTICATED')
  })
  it('TCP with a wrong token is 401', async () => {
    expect((await viaTcp('GET', '/jobs', 'wrong-token')).status).toBe(401)
  })
  it('TCP with the token works', async () => {
    expect((await viaTcp('GET', '/jobs', TOKEN)).status).toBe(200)
  })
  it('the unix socket needs no token', async () => {
    expect((await viaUnix('GET', '/jobs')).status).toBe(200)
  })
  it('healthz is open', async () => {
    expect((await viaTcp('GET', '/healthz')).status).toBe(200)
  })
  it('refuses a public bind without the explicit flag', async () => {
    await expect(listen(createApp({} as never), { listen: '0.0.0.0:0' })).rejects.toMatchObject({ code: 'PUBLIC_LISTEN_REFUSED' })
  })
})

describe('jobs', () => {
  it('404 for an unknown job', async () => {
    const r = await viaUnix('GET', '/jobs/01ABSENT')
    expect(r.status).toBe(404)
    expect(r.json.error.code).toBe('JOB_NOT_FOUND')
  })
  it('refuses to delete a running job without force, then kills it with force', async () => {
    const { json: job } = await viaUnix('POST', '/run', { image: 'x', cmd: ['sleep'] })
    await waitFor('the job running', async () => (await viaUnix('GET', `/jobs/${job.id}`)).json.state === 'running')
    expect((await viaUnix('DELETE', `/jobs/${job.id}`)).status).toBe(409)
    expect((await viaUnix('DELETE', `/jobs/${job.id}?force=true`)).status).toBe(204)
    expect((await viaUnix('GET', `/jobs/${job.id}`)).status).toBe(404)
  })
  it('lists with state and label filters and paginates by cursor', async () => {
    for (let i = 0; i < 3; i++) await viaUnix('POST', '/run?wait=true', { image: 'x', cmd: ['fail'], labels: { team: 'pager' } })
    const r = await viaUnix('GET', '/jobs?label=team=pager&state=exited&limit=2')
    expect(r.json.items).toHaveLength(2)
    expect(r.json.items.every((j: { exitCode: number }) => j.exitCode === 3)).toBe(true)
    const r2 = await viaUnix('GET', `/jobs?label=team=pager&limit=2&before=${r.json.next}`)
    expect(r2.json.items).toHaveLength(1)
    expect((await viaUnix('GET', '/jobs?state=nope')).json.error.field).toBe('state')
  })
})

describe('system', () => {
  it('serves an OpenAPI 3.1 document generated from the schemas', async () => {
    const r = await viaUnix('GET', '/openapi.json')
    expect(r.json.openapi).toBe('3.1.0')
    const run = r.json.paths['/run'].post
    expect(run.requestBody.content['application/json'].schema.properties.limits.properties).toHaveProperty('memory')
    expect(run.requestBody.content['application/json'].schema.additionalProperties).toBe(false)
  })
  it('serves Prometheus metrics that parse', async () => {
    const r = await viaUnix('GET', '/metrics')
    expect(r.status).toBe(200)
    const lines = r.text.split('\n').filter((l) => l && !l.startsWith('#'))
    for (const l of lines) expect(l).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/)
    expect(r.text).toMatch(/skiff_jobs\{state="exited"\} \d+/)
    expect(r.text).toContain('skiff_http_request_duration_seconds_bucket')
  })
})

describe('/docs', () => {
  it('serves Swagger UI from the daemon itself, without a token: no script or style from elsewhere', async () => {
    const page = await viaTcp('GET', '/docs')
    expect(page.status).toBe(200)
    expect(page.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//)
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(refs).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/swagger-init.js']))
    for (const ref of refs) {
      const r = await request(base + ref)
      const body = Buffer.from(await r.body.arrayBuffer())
      expect(r.statusCode, ref).toBe(200)
      expect(body.length, ref).toBeGreaterThan(ref.endsWith('bundle.js') ? 500_000 : 20)
    }
    const init = await request(base + '/docs/swagger-init.js')
    expect(await init.body.text()).toContain("url: '/openapi.json'")
    expect((await viaTcp('GET', '/openapi.json')).json.openapi).toBe('3.1.0')
  })
  it('serves nothing else from there, and the API still needs the token', async () => {
    for (const p of ['/docs/package.json', '/docs/index.html', '/docs/..%2Fpackage.json', '/docs/x/y']) expect((await viaTcp('GET', p)).status, p).toBe(404)
    expect((await viaTcp('GET', '/jobs')).status).toBe(401)
  })
})

describe('OpenAPI document', () => {
  it('validates against the OpenAPI 3.1 schema', async () => {
    // the document first: the import can take seconds on a loaded machine, long enough for the
    // server to drop the pooled keep-alive connection just as the client reuses it (ECONNRESET)
    const doc = (await viaUnix('GET', '/openapi.json')).json
    const { Validator } = await import('@seriousme/openapi-schema-validator')
    const v = new Validator()
    const res = await v.validate(doc)
    expect(res.errors ?? [], JSON.stringify(res.errors)).toEqual([])
    expect(res.valid).toBe(true)
  })
})
