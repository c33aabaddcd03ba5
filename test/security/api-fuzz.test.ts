import Database from 'better-sqlite3'
import fc from 'fast-check'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../helpers/daemon.js'
import { hostileString, mutate, valid } from '../helpers/fuzz.js'

// Every route of /openapi.json, with valid then mutated requests (fast-check):
// wrong types, missing and extra fields, huge strings and numbers, unicode and
// NUL, deep nesting, path traversal in ids and names, prototype keys. The
// invariant: never a 500, never a crash or a hang, the daemon keeps serving and
// its database passes an integrity check afterwards.
//
// Safety (tests talk to 127.0.0.0/8 only): every image reference the fuzzer
// sends is replaced by a local image, one on a closed loopback port, or one that
// does not parse; `pull` is always "never" — a generated "x" must not become a
// pull from docker.io.
const daemon = useBusyboxDaemon()
let d: TestDaemon
let doc: { paths: Record<string, Record<string, Op>> }
type Op = { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }; 'x-websocket'?: boolean }
const RUNS = Number(process.env.SKIFF_FUZZ_RUNS ?? 25)
const SAFE_REFS = ['busybox', '127.0.0.1:1/nope:latest', 'UPPER/case', 'a@sha256:zz', '', '::', 'x'.repeat(300)]
const failures: string[] = []
let sent = 0
let existingJob = ''

beforeAll(async () => {
  d = daemon()
  doc = (await d.api('GET', '/openapi.json')).json
  existingJob = (await d.api('POST', '/run?wait=true', { image: 'busybox', name: 'fuzz-target', cmd: ['true'] })).json.id
})

afterAll(async () => {
  // whatever the fuzzer started: kill it, so the daemon's stop is quick
  const jobs = (await d.api('GET', '/jobs?limit=1000')).json?.items ?? []
  for (const j of jobs) if (!['exited', 'failed', 'killed', 'oom', 'timed_out', 'stopped'].includes(j.state)) await d.api('POST', `/jobs/${j.id}/kill`, { signal: 'SIGKILL' })
})

/** Make a generated body safe to send (see above), without touching its shape otherwise. */
function defuse(v: unknown, key = '', depth = 0): unknown {
  if (depth > 20) return v // the deep-nesting values carry no image reference down there
  if (typeof v === 'string' && (key === 'image' || key === 'ref')) return SAFE_REFS[v.length % SAFE_REFS.length]
  if (key === 'pull' && typeof v === 'string') return 'never'
  if (Array.isArray(v)) return v.map((x) => defuse(x, '', depth + 1))
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) o[k] = defuse(x, k, depth + 1)
    if ('image' in o && !('pull' in o)) o.pull = 'never'
    // a job from the fuzzer never outlives the test
    if ('image' in o && (o.limits === undefined || (typeof o.limits === 'object' && o.limits && !Array.isArray(o.limits)))) o.limits = { ...(o.limits as object), timeout: '5s' }
    return o
  }
  return v
}

// URLs stay under Node's 16 KiB header limit (past it Node answers 431 and drops the
// connection, which a writing client sees as EPIPE): huge strings go in bodies
const short = hostileString.map((x) => x.slice(0, 3000))
const pathValue = fc.oneof(
  fc.constantFrom('fuzz-target', 'nope', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '0', '..', '.', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%00', 'a%00b', '__proto__', 'constructor'),
  fc.constant(null).map(() => existingJob),
  short.map((s) => encodeURIComponent(s)),
  short.filter((s) => !/[?#]/.test(s)).map((s) => encodeURI(s)),
)
const queryValue = fc.oneof(short, fc.constantFrom('true', 'false', '1', '-1', '0', '1e309', '99999999999999999999', 'stdout', '5m', 'x=y'))

async function send(method: string, path: string, body: unknown, raw: boolean): Promise<void> {
  sent++
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), 30_000)
  let status = 0
  let text = ''
  try {
    const payload = body === undefined ? undefined : raw ? (typeof body === 'string' ? body : JSON.stringify(body)) : JSON.stringify(body)
    const r = await d.raw(method.toUpperCase(), path, { body: payload, headers: { 'content-type': raw ? 'application/octet-stream' : 'application/json' }, signal: ac.signal } as never)
    status = r.statusCode
    text = await r.body.text()
  } catch (e) {
    failures.push(`${method} ${path.slice(0, 200)}: ${(e as Error).message} (${ac.signal.aborted ? 'hung > 30 s' : 'connection failed'})`)
    return
  } finally {
    clearTimeout(timer)
  }
  let code: string | undefined
  try {
    code = JSON.parse(text)?.error?.code
  } catch {
    /* not JSON */
  }
  // 502/503 are answers about a registry or capacity (QUEUE_FULL, REGISTRY_*), never a bug; 500 is
  if (status === 500 || status > 503 || code === 'INTERNAL' || (status >= 500 && !code))
    failures.push(`${method} ${path.slice(0, 200)} ${JSON.stringify(body)?.slice(0, 300)} → ${status} ${text.slice(0, 300)}`)
}

function requests(method: string, template: string, op: Op) {
  const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)
  const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
  const json = op.requestBody?.content['application/json']?.schema
  const bodyArb: fc.Arbitrary<{ body: unknown; raw: boolean }> = json
    ? valid(json).chain((v) => fc.oneof({ weight: 1, arbitrary: fc.constant(v) }, { weight: 3, arbitrary: mutate(v) })).map((b) => ({ body: defuse(b), raw: false }))
    : // routes that take raw bytes (load, import, stdin) or nothing
      fc.oneof(fc.constant({ body: undefined, raw: true }), fc.string({ unit: 'binary', maxLength: 2000 }).map((s) => ({ body: s, raw: true })))
  return fc.record({
    params: fc.tuple(...pathParams.map(() => pathValue)),
    // `wait` (and /run's `follow`) are left out: a generated wait=true on a job with a hostile command could hold the request for its whole timeout
    query: fc.subarray(query.filter((q) => q !== 'wait' && !(template === '/run' && q === 'follow'))).chain((names) => fc.tuple(...names.map((n) => queryValue.map((v) => [n, v] as const)))),
    body: bodyArb,
  }).map(({ params, query: q, body }) => {
    let path = template
    pathParams.forEach((name, i) => (path = path.replace(`{${name}}`, params[i]!)))
    // never delete the image every valid request runs
    if (method === 'delete' && template === '/images/{ref}' && /busybox/i.test(decodeURIComponent(path.slice(8)) || '')) path = '/images/nope'
    const qs = new URLSearchParams(q as [string, string][]).toString()
    return { path: qs ? `${path}?${qs}` : path, ...body }
  })
}

describe('API fuzzing from /openapi.json', () => {
  it('never answers 500, never hangs or crashes, for every route; the daemon serves on and its database is intact', async () => {
    const ops = Object.entries(doc.paths).flatMap(([p, ms]) => Object.entries(ms).filter(([, op]) => !op['x-websocket']).map(([m, op]) => [m, p, op] as const))
    expect(ops.length).toBeGreaterThan(20)
    for (const [method, path, op] of ops) {
      await fc.assert(
        fc.asyncProperty(requests(method, path, op), async (r) => {
          await send(method, r.path, r.body, r.raw)
        }),
        { numRuns: RUNS, seed: Number(process.env.SKIFF_FUZZ_SEED ?? 1301), endOnFailure: true },
      )
    }
    // the same over TCP without a token: 401, not a crash, for a sample of routes
    for (const [method, path] of ops.slice(0, 10)) {
      const r = await request(`http://127.0.0.1:${d.port}${path.replace(/\{\w+\}/g, 'x')}`, { method: method.toUpperCase() as 'GET' })
      await r.body.text()
      expect([path, r.statusCode === 401 || path === '/healthz' || path.startsWith('/docs') || path === '/openapi.json']).toEqual([path, true])
    }
    console.log(`api fuzz: ${sent} requests over ${ops.length} routes, ${failures.length} failures`)
    expect(failures).toEqual([])
    expect(d.child.exitCode).toBeNull()
    expect((await d.api('GET', '/healthz')).status).toBe(200)
    expect((await d.api('GET', '/jobs')).status).toBe(200)
    expect((await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['echo', 'still serving'] })).json).toMatchObject({ exitCode: 0, stdout: 'still serving\n' })
    const db = new Database(join(d.dataDir, 'state.db'), { readonly: true, fileMustExist: true })
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    } finally {
      db.close()
    }
  }, 600_000)
})
