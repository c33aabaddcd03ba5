import { readFileSync } from 'node:fs'
import type { Client } from '../client.js'
import { keyValues, parseArgv, type FlagSpec } from '../argv.js'
import { ago, printJson, shortId, table } from '../render.js'
import { followLogs } from '../logs.js'
import { attachJob } from '../attach.js'
import { SkiffError } from '../../lib/errors.js'

interface JobView {
  id: string; name: string | null; state: string; image: string; cmd: string[] | null; exitCode: number | null; signal: string | null
  reason: string | null; message: string | null; createdAt: string; startedAt: string | null; finishedAt: string | null; usage: unknown
  stdout?: string; stderr?: string; interactive?: boolean
}

const RUN_FLAGS: Record<string, FlagSpec> = {
  detach: { short: 'd', type: 'boolean' },
  rm: { type: 'boolean' },
  name: { type: 'string' },
  env: { short: 'e', type: 'multi' },
  label: { short: 'l', type: 'multi' },
  memory: { short: 'm', type: 'string' },
  cpus: { type: 'string' },
  pids: { type: 'string' },
  'pids-limit': { type: 'string' },
  timeout: { type: 'string' },
  network: { type: 'string' },
  net: { type: 'string' },
  user: { short: 'u', type: 'string' },
  workdir: { short: 'w', type: 'string' },
  hostname: { short: 'h', type: 'string' },
  entrypoint: { type: 'string' },
  pull: { type: 'string' },
  interactive: { short: 'i', type: 'boolean' },
  'read-only': { type: 'boolean' },
  json: { type: 'boolean' },
}

const num = (v: unknown, field: string): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `--${field}: not a number: ${String(v)}`, { field })
  return n
}

export async function run(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, RUN_FLAGS, { stopAtPositional: true })
  const [image, ...cmd] = positionals
  if (!image) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff run [flags] IMAGE [CMD…]', { field: 'image' })
  const limits: Record<string, unknown> = {}
  if (f.memory) limits.memory = f.memory
  if (f.cpus) limits.cpus = num(f.cpus, 'cpus')
  if (f.pids || f['pids-limit']) limits.pids = num(f.pids ?? f['pids-limit'], 'pids')
  if (f.timeout) limits.timeout = f.timeout
  const body: Record<string, unknown> = {
    image,
    ...(cmd.length ? { cmd } : {}),
    ...(f.entrypoint !== undefined ? { entrypoint: f.entrypoint } : {}),
    ...(f.env ? { env: keyValues(f.env as string[], 'env') } : {}),
    ...(f.label ? { labels: keyValues(f.label as string[], 'label') } : {}),
    ...(f.name ? { name: f.name } : {}),
    ...(f.user ? { user: f.user } : {}),
    ...(f.workdir ? { workdir: f.workdir } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    ...(f['read-only'] ? { readonlyRootfs: true } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(f.network || f.net ? { network: { mode: f.network ?? f.net } } : {}),
    ...(f.pull ? { pull: f.pull } : {}),
    // -i: stdin stays open and ours is streamed into it (docker run -i); with -d
    // it waits for `skiff attach` or POST /jobs/:id/stdin
    ...(f.interactive ? { interactive: true } : {}),
  }
  const job = await c.json<JobView>('POST', '/run', body)
  if (f.detach) {
    if (f.json) printJson(job)
    else process.stdout.write(job.id + '\n')
    return 0
  }
  // Foreground, like `docker run`: stream output live, exit with the job's code.
  const onSignal = () => void c.json('POST', `/jobs/${job.id}/kill`, { signal: 'SIGTERM' }).catch(() => {})
  process.once('SIGINT', onSignal)
  try {
    if (f.interactive) await attachJob(c, job.id, { logs: true })
    else await followLogs(c, job.id, { follow: true })
  } finally {
    process.off('SIGINT', onSignal)
  }
  const done = await c.json<JobView>('POST', `/jobs/${job.id}/wait`)
  if (f.rm) await c.json('DELETE', `/jobs/${job.id}`).catch(() => {})
  if (f.json) printJson({ ...done, stdout: undefined, stderr: undefined })
  if (done.state === 'failed') {
    process.stderr.write(`skiff: job ${job.id} failed: ${done.message ?? done.reason}\n`)
    return 125
  }
  if (done.state === 'oom') process.stderr.write(`skiff: job ${job.id} was killed: out of memory\n`)
  if (done.state === 'timed_out') process.stderr.write(`skiff: job ${job.id} was killed: timeout\n`)
  return exitCodeOf(done)
}

/** Shell convention: 128 + signal number for a signalled job. */
export function exitCodeOf(j: { exitCode: number | null; signal: string | null }): number {
  if (j.exitCode !== null) return j.exitCode
  const nums: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6 }
  return 128 + (j.signal ? (nums[j.signal] ?? 0) : 0)
}

/** skiff attach JOB: our stdin into an interactive job's, its output to ours;
 *  Ctrl-C detaches and leaves the job running. A job without an open stdin is
 *  followed from now on, like docker attach of a container run without -i. */
export async function attach(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { 'no-stdin': { type: 'boolean' }, logs: { type: 'boolean' } })
  const [ref] = positionals
  if (!ref || positionals.length > 1) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff attach [--no-stdin] [--logs] JOB', { field: 'job' })
  const job = await c.json<JobView>('GET', `/jobs/${encodeURIComponent(ref)}`)
  const ac = new AbortController()
  const onSignal = () => {
    process.stderr.write(`\nskiff: detached from ${job.id}; it keeps running (skiff attach ${job.id})\n`)
    ac.abort()
  }
  process.once('SIGINT', onSignal)
  try {
    if (!job.interactive) {
      await followLogs(c, job.id, { follow: true, ...(f.logs ? {} : { tail: '0' }), signal: ac.signal })
      if (ac.signal.aborted) return 0
      return exitCodeOf(await c.json<JobView>('POST', `/jobs/${job.id}/wait`))
    }
    const exit = await attachJob(c, job.id, { logs: !!f.logs, stdin: !f['no-stdin'], signal: ac.signal })
    return exit ? exitCodeOf(exit) : 0
  } finally {
    process.off('SIGINT', onSignal)
  }
}

export async function ps(c: Client, argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, { all: { short: 'a', type: 'boolean' }, json: { type: 'boolean' }, quiet: { short: 'q', type: 'boolean' }, filter: { short: 'f', type: 'multi' } })
  const qs = new URLSearchParams()
  if (!f.all) qs.set('state', 'queued,pulling,starting,running')
  for (const flt of (f.filter as string[] | undefined) ?? []) {
    const [k, ...v] = flt.split('=')
    qs.append(k === 'status' ? 'state' : k!, v.join('='))
  }
  const page = await c.json<{ items: JobView[] }>('GET', `/jobs?${qs}`)
  if (f.json) return printJson(page.items), 0
  if (f.quiet) return process.stdout.write(page.items.map((j) => j.id + '\n').join('')), 0
  const rows = page.items.map((j) => [
    j.id, j.image, JSON.stringify((j.cmd ?? []).join(' ')).slice(0, 30), ago(j.createdAt),
    j.state + (j.exitCode !== null ? ` (${j.exitCode})` : j.signal ? ` (${j.signal})` : ''), j.name ?? '',
  ])
  console.log(table(rows, ['JOB ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAME']))
  return 0
}

export async function inspect(c: Client, argv: string[]): Promise<number> {
  const { positionals } = parseArgv(argv, { json: { type: 'boolean' } })
  if (!positionals.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff inspect JOB…', { field: 'job' })
  const out = []
  for (const id of positionals) out.push(await c.json('GET', `/jobs/${encodeURIComponent(id)}`))
  printJson(out.length === 1 ? out[0] : out)
  return 0
}

export async function kill(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { signal: { short: 's', type: 'string' } })
  for (const id of positionals) {
    await c.json('POST', `/jobs/${encodeURIComponent(id)}/kill`, f.signal ? { signal: f.signal } : {})
    console.log(id)
  }
  return 0
}

export async function wait(c: Client, argv: string[]): Promise<number> {
  const { positionals } = parseArgv(argv, {})
  let code = 0
  for (const id of positionals) {
    const j = await c.json<JobView>('POST', `/jobs/${encodeURIComponent(id)}/wait`)
    code = exitCodeOf(j)
    console.log(code)
  }
  return code
}

export async function rm(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { force: { short: 'f', type: 'boolean' } })
  for (const id of positionals) {
    await c.json('DELETE', `/jobs/${encodeURIComponent(id)}${f.force ? '?force=true' : ''}`)
    console.log(id)
  }
  return 0
}

export async function prune(c: Client): Promise<number> {
  const r = await c.json<{ removed: string[] }>('POST', '/jobs/prune')
  console.log(`removed ${r.removed.length} finished job(s)`)
  return 0
}

export async function exec(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { env: { short: 'e', type: 'multi' }, user: { short: 'u', type: 'string' }, workdir: { short: 'w', type: 'string' }, interactive: { short: 'i', type: 'boolean' } }, { stopAtPositional: true })
  const [id, ...cmd] = positionals
  if (!id || !cmd.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff exec JOB CMD…', { field: 'cmd' })
  const r = await c.json<{ exitCode: number | null; stdout: string; stderr: string }>('POST', `/jobs/${encodeURIComponent(id)}/exec`, {
    cmd,
    ...(f.env ? { env: keyValues(f.env as string[], 'env') } : {}),
    ...(f.user ? { user: f.user } : {}),
    ...(f.workdir ? { workdir: f.workdir } : {}),
    ...(f.interactive ? { stdin: readFileSync(0, 'utf8') } : {}),
  })
  process.stdout.write(r.stdout)
  process.stderr.write(r.stderr)
  return r.exitCode ?? 1
}

export async function logs(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, {
    follow: { short: 'f', type: 'boolean' }, tail: { short: 'n', type: 'string' }, since: { type: 'string' },
    timestamps: { short: 't', type: 'boolean' }, stream: { type: 'string' },
  })
  const [id] = positionals
  if (!id) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff logs [-f] [--tail N] [--since 5m] [-t] JOB', { field: 'job' })
  await followLogs(c, id, { follow: Boolean(f.follow), tail: f.tail as string | undefined, since: f.since as string | undefined, timestamps: Boolean(f.timestamps), stream: f.stream as string | undefined })
  return 0
}
