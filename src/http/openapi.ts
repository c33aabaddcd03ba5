import { z } from 'zod'
import { ErrorSchema } from './schemas/common.js'
import { AttemptViewSchema, ExecSchema, JobViewSchema, KillSchema, ResizeSchema, RunResultSchema } from './schemas/job.js'
import { StopSchema, UpdateJobSchema } from './schemas/service.js'
import { ImageViewSchema, PullSchema } from './schemas/image.js'
import { RunRequestSchema } from './schemas/run-request.js'
import { SchedulePatchSchema, ScheduleRequestSchema, ScheduleSummarySchema, ScheduleViewSchema } from './schemas/schedule.js'
import { NetworkCreateSchema, NetworkViewSchema } from './schemas/network.js'
import { WS_ROUTES } from './routes/logs-ws.js'

/** One operation of the API. Adding a route? Add its Op here too:
 *  test/unit/http/openapi-routes.test.ts compares this list with the routes the
 *  app mounts (and with WS_ROUTES) and fails on a route missing from either side. */
export interface Op {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  path: string
  summary: string
  description?: string
  /** a WebSocket route (GET + Upgrade): documented with a 101 answer */
  ws?: true
  body?: z.ZodType
  query?: Record<string, string>
  ok: [number, z.ZodType | null, string?]
  errors?: number[]
}

const Page = (item: z.ZodType) => z.object({ items: z.array(item), next: z.string().nullable() })

/** The API, described from the same zod schemas that validate requests. */
export const OPERATIONS: Op[] = [
  { method: 'post', path: '/run', summary: 'Run a job', body: RunRequestSchema, query: { wait: 'hold the request until the job ends', timeout: 'with wait: give up waiting after this duration (e.g. 30s)', follow: 'stream the job and its output in this response (NDJSON: {"job": view}, then the records of GET /jobs/{id}/logs?follow=true, then {"exit"}): a foreground run in one round trip' }, ok: [201, JobViewSchema, 'the queued job; with ?wait=true: 200 and RunResult; with ?follow=true: NDJSON'], errors: [400, 401, 409, 413, 422, 503] },
  { method: 'get', path: '/jobs', summary: 'List jobs (newest first)', query: { state: 'comma-separated states', name: 'exact name', label: 'key=value (repeatable)', parent: 'a per-connection listener (id or name): only its connections\' jobs', limit: '1..1000', before: 'cursor: the `next` of the previous page' }, ok: [200, Page(JobViewSchema)] },
  { method: 'get', path: '/jobs/{id}', summary: 'Inspect a job. Every /jobs/{id} route takes the id, the name, or a unique id prefix (any case; ambiguous: 409 AMBIGUOUS_JOB_ID)', ok: [200, JobViewSchema], errors: [404, 409] },
  { method: 'get', path: '/jobs/{id}/attempts', summary: 'The attempts of a job (one per start and restart), oldest first', ok: [200, z.object({ items: z.array(AttemptViewSchema) })], errors: [404] },
  { method: 'post', path: '/jobs/{id}/stop', summary: 'Stop: the stop signal, SIGKILL after the timeout; answers once stopped. A stopped job is not restarted (unless-stopped: not even by a daemon restart)', body: StopSchema, ok: [200, JobViewSchema], errors: [404] },
  { method: 'post', path: '/jobs/{id}/start', summary: 'Start a settled job again (a new attempt; its restart count and backoff start over). No-op for an active job', ok: [202, JobViewSchema], errors: [404, 503] },
  { method: 'post', path: '/jobs/{id}/restart', summary: 'Stop (if active), then start', body: StopSchema, ok: [202, JobViewSchema], errors: [404] },
  { method: 'patch', path: '/jobs/{id}', summary: 'Change the restart policy or backoff of a job (docker update --restart); applies from its next exit', body: UpdateJobSchema, ok: [200, JobViewSchema], errors: [400, 404] },
  { method: 'get', path: '/jobs/{id}/events', summary: 'State history of a job', ok: [200, z.object({ items: z.array(z.object({ state: z.string(), time: z.string(), detail: z.string().nullable() })) })], errors: [404] },
  { method: 'post', path: '/jobs/{id}/kill', summary: 'Send a signal (default SIGKILL): a name (SIGTERM, TERM, SIGRTMIN+2) or a number 1-64', body: KillSchema, ok: [202, JobViewSchema], errors: [400, 404, 409] },
  { method: 'post', path: '/jobs/{id}/wait', summary: 'Wait for a job to end', query: { timeout: 'give up after this duration' }, ok: [200, RunResultSchema], errors: [400, 404] },
  {
    method: 'post', path: '/jobs/{id}/exec', summary: 'Run a command inside a running job (docker exec)', body: ExecSchema,
    description: 'Buffered by default (stdout and stderr, each cut at 16 MiB with truncated: true). With Accept: application/x-ndjson the output streams as it comes, one line per chunk: {"stream": "stdout"|"stderr", "data": text | "data64": base64}, then {"exit": {exitCode, signal, timedOut}} or {"error": {code, message}}; closing the connection kills the command. `user` is resolved against the container\'s /etc/passwd; `timeout` kills the command (timedOut: true). A command not in the container is 400 EXECUTABLE_NOT_FOUND (docker\'s 127), a non-executable one EXECUTABLE_NOT_RUNNABLE (126).',
    ok: [200, z.object({ exitCode: z.number().nullable(), signal: z.string().nullable(), timedOut: z.boolean(), stdout: z.string(), stderr: z.string(), truncated: z.boolean().optional() }), 'the result, or NDJSON with Accept: application/x-ndjson'], errors: [400, 404, 409],
  },
  { method: 'post', path: '/jobs/{id}/resize', summary: 'Set a tty job\'s terminal size (docker resize); the attach socket takes {"resize": {rows, cols}} too', body: ResizeSchema, ok: [200, ResizeSchema], errors: [400, 404, 409] },
  { method: 'post', path: '/jobs/{id}/stdin', summary: 'Write the request body (raw bytes, streamed) to an interactive job\'s stdin. WebSocket alternative: GET /jobs/{id}/attach', query: { eof: 'close stdin after the body' }, ok: [200, z.object({ written: z.number(), closed: z.boolean() })], errors: [404, 409] },
  { method: 'delete', path: '/jobs/{id}', summary: 'Remove a finished job and its logs', query: { force: 'kill it first if running' }, ok: [204, null], errors: [404, 409] },
  { method: 'post', path: '/jobs/prune', summary: 'Remove all finished jobs', ok: [200, z.object({ removed: z.array(z.string()) })] },
  { method: 'get', path: '/jobs/{id}/logs', summary: 'Job output of every attempt in order (text, or NDJSON records with Accept: application/x-ndjson, where {"attempt": {n, offset}} marks where each restart\'s output begins)', query: { stream: 'stdout|stderr|all', tail: 'last N lines', since: 'RFC 3339 time or duration like 5m', from: 'byte offset to resume from (offsets run on across attempts)', timestamps: 'prefix lines with time', follow: 'stream until the job settles (across restarts)', attempt: 'only this attempt\'s output (1, 2, …)' }, ok: [200, null, 'text/plain or application/x-ndjson'], errors: [404] },
  { method: 'post', path: '/images/pull', summary: 'Pull an image (NDJSON progress with Accept: application/x-ndjson)', body: PullSchema, ok: [200, ImageViewSchema], errors: [400, 422, 502, 507] },
  { method: 'get', path: '/images', summary: 'List images', ok: [200, z.object({ items: z.array(ImageViewSchema) })] },
  { method: 'get', path: '/images/{ref}', summary: 'Inspect an image', ok: [200, ImageViewSchema], errors: [404] },
  { method: 'delete', path: '/images/{ref}', summary: 'Remove an image reference', query: { force: 'even if a job uses it' }, ok: [204, null], errors: [404, 409] },
  { method: 'post', path: '/images/prune', summary: 'Remove unused images and layers', ok: [200, z.object({ images: z.number(), layers: z.number(), bytes: z.number() })] },
  { method: 'post', path: '/images/load', summary: 'Load a docker-save or OCI-layout tar (optionally gzip)', ok: [201, z.object({ items: z.array(ImageViewSchema) })], errors: [400, 507] },
  { method: 'post', path: '/images/import', summary: 'Import a rootfs tarball as a one-layer image', query: { ref: 'reference to tag it with' }, ok: [201, ImageViewSchema], errors: [400, 507] },
  { method: 'get', path: '/images/save', summary: 'Export images as a docker-save tar', query: { ref: 'reference (repeatable)' }, ok: [200, null, 'application/x-tar'], errors: [404] },
  { method: 'post', path: '/schedules', summary: 'Create a cron schedule: every tick starts one run of `job` (exactly once per tick, across restarts)', body: ScheduleRequestSchema, ok: [201, ScheduleViewSchema], errors: [400, 401, 409, 413] },
  { method: 'get', path: '/schedules', summary: 'List schedules with their next fire time', ok: [200, z.object({ items: z.array(ScheduleSummarySchema) })] },
  { method: 'get', path: '/schedules/{name}', summary: 'Inspect a schedule: the next 5 fire times, recent runs with their state, missed and skipped ticks', query: { runs: 'how many recent runs (default 20, max 1000)', misses: 'how many recent misses (default 20, max 1000)' }, ok: [200, ScheduleViewSchema], errors: [404] },
  { method: 'patch', path: '/schedules/{name}', summary: 'Change a schedule (suspend/resume, spec, job); a new cron, zone or jitter and a resume count from now', body: SchedulePatchSchema, ok: [200, ScheduleViewSchema], errors: [400, 404] },
  { method: 'delete', path: '/schedules/{name}', summary: 'Delete a schedule, its tick history and its runs (with their logs)', query: { force: 'also when runs are active: kill them first' }, ok: [204, null], errors: [404, 409] },
  { method: 'post', path: '/schedules/{name}/trigger', summary: 'Start a run now, recorded as a manual run (the concurrency policy does not apply)', ok: [201, JobViewSchema], errors: [404, 503] },
  { method: 'post', path: '/networks', summary: 'Create a bridge network (jobs on it reach each other by name)', body: NetworkCreateSchema, ok: [201, NetworkViewSchema], errors: [400, 409, 503] },
  { method: 'get', path: '/networks', summary: 'List networks', ok: [200, z.object({ items: z.array(NetworkViewSchema) })] },
  { method: 'get', path: '/networks/{name}', summary: 'Inspect a network and the jobs on it', ok: [200, NetworkViewSchema], errors: [404] },
  { method: 'delete', path: '/networks/{name}', summary: 'Remove a network no job uses (its bridge and leases too)', ok: [204, null], errors: [404, 409] },
  { method: 'get', path: '/healthz', summary: 'Liveness (no auth)', ok: [200, z.object({ ok: z.boolean() })] },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', ok: [200, null, 'text/plain; version=0.0.4'] },
  { method: 'get', path: '/openapi.json', summary: 'This document (no auth)', ok: [200, null, 'application/json (OpenAPI 3.1)'] },
  { method: 'get', path: '/docs', summary: 'Swagger UI for this document, served by the daemon (works offline; no auth, like /openapi.json)', ok: [200, null, 'text/html'] },
  { method: 'get', path: '/docs/{file}', summary: 'Swagger UI\'s static files (swagger-ui-dist)', ok: [200, null, 'text/css, text/javascript or image/png'], errors: [404] },
  { method: 'post', path: '/auth/tickets', summary: 'Mint a WebSocket ticket: single use, valid 30 s, sent on an upgrade as ?ticket= or Sec-WebSocket-Protocol ticket.<t> (browsers cannot send Authorization there; the token never goes in a URL)', ok: [201, z.object({ ticket: z.string(), expiresAt: z.string(), ttlSeconds: z.number() })], errors: [401] },
  // ---- WebSocket routes (GET with Upgrade: websocket; wire protocol in src/http/routes/logs-ws.ts and src/http/README.md)
  {
    method: 'get', path: WS_ROUTES.logs, ws: true, summary: 'Follow a job\'s output over a WebSocket',
    description: 'Server → client: one message per output record: format=json (default) a text frame {offset, stream, time, data | data64, dropped?}; format=binary a binary frame (header: u8 version=1, u8 stream 1|2, u8 0, u8 0, f64le offset, f64le time ms, then the raw bytes). Then {exit: {exitCode, signal, state, reason}} and close 1000. Errors: {error: {code, message}}. Resume exactly by reconnecting with from = offset + data length of the last record.',
    query: { from: 'byte offset to start at (default 0)', stream: 'stdout|stderr|all', format: 'json|binary', ticket: 'single-use ticket from POST /auth/tickets (browsers; or Sec-WebSocket-Protocol ticket.<t>); other clients send Authorization: Bearer' },
    ok: [101, null, 'Switching Protocols'], errors: [400, 401, 404],
  },
  {
    method: 'get', path: WS_ROUTES.attach, ws: true, summary: 'Attach to an interactive job: its output, and its stdin',
    description: 'Output as on /jobs/{id}/logs/ws, from the current end of the log (or from 0 with logs=true). Client → server: binary messages are raw stdin bytes; text messages {"stdin": text} | {"stdin64": base64} | {"eof": true} (close stdin) | {"resize": {"rows": R, "cols": C}} (a tty job\'s terminal size). With "tty": true the output is the terminal\'s (one stream, stdout, CRLF). Input is written in order; the socket stops reading while the job does not read. Ctrl-P Ctrl-Q is detached by the client (skiff attach): it closes the socket without sending eof. 409 before the upgrade when the job is not interactive or has ended.',
    query: { from: 'byte offset to start output at', logs: 'true: replay the output from the start', stream: 'stdout|stderr|all', format: 'json|binary', ticket: 'single-use ticket from POST /auth/tickets (browsers)' },
    ok: [101, null, 'Switching Protocols'], errors: [400, 401, 404, 409],
  },
  {
    method: 'get', path: WS_ROUTES.exec, ws: true, summary: 'Run a command in a running job with a terminal and/or a live stdin (docker exec -it)',
    description: 'The command and its options are query parameters (a browser\'s WebSocket has no body): cmd once per argument. Server → client: {"stream": "stdout"|"stderr", "data": text | "data64": base64} as the command writes (with tty=true one stream, stdout: the terminal\'s, CRLF), then {"exit": {exitCode, signal, timedOut}} or {"error": {code, message, field?}} (EXECUTABLE_NOT_FOUND: docker\'s 127, EXECUTABLE_NOT_RUNNABLE: 126), and close 1000. Client → server, as on /attach: binary messages are raw input bytes; text {"stdin": text} | {"stdin64": base64} | {"eof": true} | {"resize": {"rows": R, "cols": C}}. Closing the socket kills the command. With tty=true the command runs on a pseudo-terminal made by the runtime (crun exec --tty --console-socket).',
    query: {
      cmd: 'the command and its arguments, repeated (required)', stdin: 'true: the socket\'s input goes to the command\'s stdin', tty: 'true: a pseudo-terminal', rows: 'terminal rows (tty; default 24)', cols: 'terminal columns (tty; default 80)',
      env: 'K=V, repeatable', user: 'name, uid, uid:gid or name:group', workdir: 'absolute path', timeout: 'kill the command after this long, e.g. 10s', ticket: 'single-use ticket from POST /auth/tickets (browsers)',
    },
    ok: [101, null, 'Switching Protocols'], errors: [400, 401, 404, 409],
  },
  {
    method: 'get', path: WS_ROUTES.multiplexed, ws: true, summary: 'Follow many jobs\' output over one WebSocket',
    description: 'Client → server: {"subscribe": job, "from"?: offset, "stream"?: "stdout|stderr|all"} | {"unsubscribe": job}. Server → client: the records of /jobs/{id}/logs/ws, each tagged with "job" (binary frames carry the job id after the header: byte 2 is its length), then {job, exit}; errors {job?, error}.',
    query: { format: 'json|binary', ticket: 'single-use ticket from POST /auth/tickets (browsers)' },
    ok: [101, null, 'Switching Protocols'], errors: [400, 401],
  },
]

const schema = (s: z.ZodType) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>
  return rest
}

export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of OPERATIONS) {
    const params: { name: string; in: string; required: boolean; description?: string; schema: { type: string } }[] = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1]!, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries(op.query ?? {}).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })),
    ]
    const [status, okSchema, okDesc] = op.ok
    const responses: Record<string, unknown> = {
      [status]: { description: okDesc ?? 'OK', ...(okSchema ? { content: { 'application/json': { schema: schema(okSchema) } } } : {}) },
    }
    for (const e of op.errors ?? []) responses[e] = { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
    if (op.ws) params.unshift(
      { name: 'Upgrade', in: 'header', required: true, description: 'websocket', schema: { type: 'string' } },
      { name: 'Connection', in: 'header', required: true, description: 'Upgrade', schema: { type: 'string' } },
    )
    ;(paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.ws ? { 'x-websocket': true } : {}),
      operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, ch: string) => ch.toUpperCase()).replace(/\W/g, '')}`,
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(op.body) } } } } : {}),
      responses,
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'skiff', version, description: 'Self-hosted job runner: pull, isolate, run, stream.' },
    servers: [{ url: 'http://127.0.0.1:7777' }],
    components: {
      schemas: { Error: schema(ErrorSchema) },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  }
}
