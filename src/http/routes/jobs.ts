import { isUtf8 } from 'node:buffer'
import { Hono } from 'hono'
import { stream } from 'hono/streaming'
import { errorBody, toSkiffError } from '../errors.js'
import { MAX_TIMER_MS } from '../../lib/clock.js'
import { invalidArgument, SkiffError } from '../../lib/errors.js'
import { parseSignal } from '../../lib/signals.js'
import { parseDuration } from '../../lib/units.js'
import { execSizeProblem, probeHostFacts } from '../../runtime/index.js'
import { isFinal, notRunning, type Job } from '../../scheduler/index.js'
import type { ApiDeps } from '../deps.js'
import { boolString, jsonBody, query } from '../schemas/common.js'
import { followBody } from './logs.js'
import { ExecSchema, KillSchema, ListJobsQuery, ResizeSchema, toAttemptView, toJobView } from '../schemas/job.js'
import { checkRunnable, RunRequestSchema, toRunSpec } from '../schemas/run-request.js'
import { StopSchema, stopTimeout, toBackoff, UpdateJobSchema } from '../schemas/service.js'
import { parseRestartPolicy } from '../../scheduler/index.js'
import { z } from 'zod'

const OUTPUT_CAP = 1024 * 1024
const WaitQuery = z.object({ wait: boolString.optional(), timeout: z.string().optional(), follow: boolString.optional() }).strict()

/** ?timeout= of a wait: held by one timer, so at most MAX_TIMER_MS (~24.8 days). */
function waitTimeout(t: string | undefined, field = 'timeout'): number | undefined {
  if (t === undefined) return undefined
  const ms = parseDuration(t, field)
  if (ms > MAX_TIMER_MS) throw invalidArgument(field, `must be at most ${Math.floor(MAX_TIMER_MS / 1000)}s`)
  return ms
}

const execView = (r: { exitCode: number | null; signal?: string | null; timedOut?: boolean; stdout: string; stderr: string; truncated?: boolean }) => ({
  exitCode: r.exitCode,
  signal: r.signal ?? null,
  timedOut: !!r.timedOut,
  stdout: r.stdout,
  stderr: r.stderr,
  ...(r.truncated ? { truncated: true } : {}),
})

export function jobsRoutes(d: ApiDeps) {
  const view = (j: Job) => toJobView(j, d.networks?.ofJob(j), d.jobs.connections(j))
  // Host facts are read once; the checks that use them are pure (runtime/host-limits.ts).
  let host = d.host
  const hostFacts = () => (host ??= probeHostFacts())
  const withOutput = async (id: string) => {
    const job = d.jobs.mustGet(id)
    const out = await d.logs.output(job.id, OUTPUT_CAP)
    return { ...view(job), ...out }
  }

  return new Hono()
    .post('/run', async (c) => {
      // Everything is validated before the job exists: a client that retries a 400 makes no duplicates.
      const q = query(c, WaitQuery)
      const timeoutMs = waitTimeout(q.timeout)
      if (q.follow && q.wait) throw invalidArgument('follow', 'wait=true or follow=true, not both')
      if (q.follow && !d.logRoutes) throw new SkiffError('unavailable', 'LOGS_UNAVAILABLE', 'follow: this daemon serves no logs', { field: 'follow' })
      const spec = toRunSpec(await jsonBody(c, RunRequestSchema))
      checkRunnable(spec, hostFacts(), d.images.resolve(spec.image))
      if (spec.network.mode === 'bridge' && !d.networks) throw new SkiffError('unavailable', 'NETWORKS_UNAVAILABLE', 'network: this daemon has no bridge networking', { field: 'network' })
      d.networks?.check(spec)
      if (spec.listen) {
        if (!d.listeners) throw new SkiffError('unavailable', 'LISTEN_UNAVAILABLE', 'listen: this daemon has no per-connection listeners', { field: 'listen' })
        d.listeners.check(spec)
      }
      // a host port a per-connection listener holds is taken: say so now, naming it
      for (const [i, p] of (spec.ports ?? []).entries()) {
        const holder = p.hostPort !== undefined && p.protocol === 'tcp' ? d.listeners?.holderOf(p.hostIp, p.hostPort) : undefined
        if (holder) throw new SkiffError('conflict', 'PORT_IN_USE', `ports[${i}]: host port ${p.hostIp}:${p.hostPort}/tcp is in use by ${holder}`, { field: `ports[${i}]`, detail: { hostIp: p.hostIp, hostPort: p.hostPort, protocol: 'tcp', holder } })
      }
      const job = d.jobs.submit(spec)
      // docker run in the foreground in one round trip: {"job": view}, then its output
      // as GET /jobs/:id/logs?follow=true sends it (NDJSON), ending with {"exit"}
      if (q.follow) {
        return new Response(followBody(d.logRoutes!, job.id, c.req.raw.signal, { job: view(job) }), {
          status: 201,
          headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', location: `/jobs/${job.id}` },
        })
      }
      if (!q.wait) return c.json(view(job), 201, { Location: `/jobs/${job.id}` })
      const done = await d.jobs.wait(job.id, { timeoutMs, signal: c.req.raw.signal })
      if (!isFinal(done.state)) return c.json(view(done), 202, { Location: `/jobs/${job.id}` })
      return c.json(await withOutput(job.id), 200)
    })
    .get('/jobs', (c) => {
      const q = query(c, ListJobsQuery.omit({ label: true }).extend({ label: z.string().optional() }))
      const labels: Record<string, string> = {}
      for (const l of c.req.queries('label') ?? []) {
        const i = l.indexOf('=')
        if (i <= 0) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `label: expected key=value, got ${JSON.stringify(l)}`, { field: 'label' })
        labels[l.slice(0, i)] = l.slice(i + 1)
      }
      // ?parent= takes an id or a name, like every other job reference (a removed listener: its id, no connections left)
      const parent = q.parent === undefined ? undefined : (d.jobs.get(q.parent)?.id ?? q.parent)
      const page = d.jobs.list({ state: q.state, name: q.name, labels, before: q.before, limit: q.limit, parent })
      return c.json({ items: page.items.map(view), next: page.next })
    })
    .post('/jobs/prune', async (c) => {
      const removed = await d.jobs.prune()
      return c.json({ removed })
    })
    .get('/jobs/:id', (c) => c.json(view(d.jobs.mustGet(c.req.param('id')))))
    .get('/jobs/:id/attempts', (c) => c.json({ items: d.jobs.attempts(c.req.param('id')).map(toAttemptView) }))
    // docker stop / start / restart / update
    .post('/jobs/:id/stop', async (c) => {
      const b = await jsonBody(c, StopSchema, { optional: true })
      return c.json(view(await d.jobs.stop(c.req.param('id'), { timeoutMs: stopTimeout(b) })))
    })
    .post('/jobs/:id/start', async (c) => {
      await jsonBody(c, z.object({}).strict(), { optional: true })
      return c.json(view(d.jobs.start(c.req.param('id'))), 202)
    })
    .post('/jobs/:id/restart', async (c) => {
      const b = await jsonBody(c, StopSchema, { optional: true })
      return c.json(view(await d.jobs.restart(c.req.param('id'), { timeoutMs: stopTimeout(b) })), 202)
    })
    .patch('/jobs/:id', async (c) => {
      const b = await jsonBody(c, UpdateJobSchema)
      const job = d.jobs.update(c.req.param('id'), {
        ...(b.restart !== undefined ? { restart: parseRestartPolicy(b.restart, 'restart') } : {}),
        ...(b.backoff ? { backoff: toBackoff(b.backoff) } : {}),
      })
      return c.json(view(job))
    })
    .get('/jobs/:id/events', (c) => {
      const ev = d.jobs.events(c.req.param('id'))
      return c.json({ items: ev.map((e) => ({ state: e.state, time: e.time.toISOString(), detail: e.detail })) })
    })
    .post('/jobs/:id/kill', async (c) => {
      const body = await jsonBody(c, KillSchema, { optional: true })
      const signal = body.signal === undefined ? undefined : parseSignal(body.signal)
      const job = await d.jobs.kill(c.req.param('id'), signal?.name as NodeJS.Signals | undefined)
      return c.json(view(job), 202)
    })
    .post('/jobs/:id/wait', async (c) => {
      const q = query(c, z.object({ timeout: z.string().optional() }).strict())
      const timeoutMs = waitTimeout(q.timeout)
      const job = await d.jobs.wait(c.req.param('id'), { timeoutMs, signal: c.req.raw.signal })
      if (!isFinal(job.state)) return c.json(view(job), 202)
      return c.json(await withOutput(job.id))
    })
    // Buffered JSON by default; with Accept: application/x-ndjson the output streams
    // as it comes: {"stream", "data" | "data64"} lines, then {"exit": {…}} or {"error": {…}}.
    .post('/jobs/:id/exec', async (c) => {
      const b = await jsonBody(c, ExecSchema)
      const cmd = Array.isArray(b.cmd) ? b.cmd : ['/bin/sh', '-c', b.cmd]
      const timeoutMs = b.timeout === undefined ? undefined : parseDuration(b.timeout, 'timeout')
      if (timeoutMs !== undefined && (timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS)) throw invalidArgument('timeout', `must be between 1ms and ${Math.floor(MAX_TIMER_MS / 1000)}s`)
      const size = execSizeProblem(cmd, Object.entries(b.env ?? {}).map(([k, v]) => `${k}=${v}`), hostFacts())
      if (size) throw size
      const job = d.jobs.mustGet(c.req.param('id'))
      if (job.state !== 'running') throw notRunning(job)
      const opts = { env: b.env, user: b.user, cwd: b.workdir, stdin: b.stdin, timeoutMs }
      if (!(c.req.header('accept') ?? '').includes('application/x-ndjson')) {
        const r = await d.jobs.exec(job.id, cmd, { ...opts, signal: c.req.raw.signal })
        return c.json(execView(r))
      }
      c.header('Content-Type', 'application/x-ndjson')
      c.header('Cache-Control', 'no-store')
      return stream(c, async (s) => {
        const ac = new AbortController()
        s.onAbort(() => ac.abort())
        const line = (o: unknown) => s.write(JSON.stringify(o) + '\n').then(() => {})
        try {
          const r = await d.jobs.exec(job.id, cmd, {
            ...opts,
            signal: ac.signal,
            onOutput: (stream, data) => line(isUtf8(data) ? { stream, data: data.toString('utf8') } : { stream, data64: data.toString('base64') }),
          })
          await line({ exit: { exitCode: r.exitCode, signal: r.signal ?? null, timedOut: !!r.timedOut } })
        } catch (e) {
          await line(errorBody(toSkiffError(e)))
        }
      })
    })
    // A tty job's terminal size (docker's POST /containers/:id/resize); also {"resize"} on the attach socket.
    .post('/jobs/:id/resize', async (c) => {
      const b = await jsonBody(c, ResizeSchema)
      await d.jobs.resize(c.req.param('id'), b.rows, b.cols)
      return c.json({ rows: b.rows, cols: b.cols })
    })
    // Raw bytes to an interactive job's stdin, streamed as they arrive; ?eof=true
    // closes stdin after them (curl --data-binary @file '…/stdin?eof=true').
    .post('/jobs/:id/stdin', async (c) => {
      const q = query(c, z.object({ eof: boolString.optional() }).strict())
      const id = d.jobs.mustGet(c.req.param('id')).id
      let bytes = 0
      const body = c.req.raw.body
      if (body) {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          await d.jobs.writeStdin(id, chunk)
          bytes += chunk.byteLength
        }
      } else if (!q.eof) await d.jobs.writeStdin(id, new Uint8Array(0)) // still checks that stdin is open
      if (q.eof) await d.jobs.closeStdin(id)
      return c.json({ written: bytes, closed: !!q.eof })
    })
    .delete('/jobs/:id', async (c) => {
      const q = query(c, z.object({ force: boolString.optional() }).strict())
      await d.jobs.remove(c.req.param('id'), { force: q.force })
      return c.body(null, 204)
    })
}
