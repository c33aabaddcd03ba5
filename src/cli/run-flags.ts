import { readFileSync } from 'node:fs'
import { isSkiffError, SkiffError } from '../lib/errors.js'
import { keyValues, parseEnvFile, usageError, type Flags } from './argv.js'
import type { FlagDef } from './command.js'

export type RunBody = Record<string, unknown> & { limits?: Record<string, unknown> }

/** A `skiff run` flag: its parsing, its help, and what it puts into POST /run.
 *  `field` is the API field it fills, so the daemon's "limits.memory: …" comes
 *  back to the user as "-m/--memory: …". To add a run flag, add a row. */
export interface RunFlag extends FlagDef {
  field?: string
  apply?(body: RunBody, value: string | boolean | string[], io: RunIO): void
}

/** What applying a flag may read besides its value (tests pass their own). */
export interface RunIO {
  env: NodeJS.ProcessEnv
  readFile(path: string): string
  warn(message: string): void
}

export const realRunIO: RunIO = {
  env: process.env,
  readFile: (p) => readFileSync(p, 'utf8'),
  warn: (m) => process.stderr.write(`skiff: warning: ${m}\n`),
}

const health = (b: RunBody): Record<string, unknown> => {
  if (b.healthcheck === undefined || typeof b.healthcheck !== 'object') b.healthcheck = {}
  return b.healthcheck as Record<string, unknown>
}
const limit = (key: string, value: unknown) => (b: RunBody) => ((b.limits ??= {})[key] = value)
export const number = (flag: string, v: string): number => {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw usageError(`invalid argument ${JSON.stringify(v)} for ${flag}: not a number`, flag)
  return n
}

export const RUN_FLAGS: Record<string, RunFlag> = {
  detach: { short: 'd', type: 'boolean', help: 'run in the background and print the job id' },
  tty: { short: 't', type: 'boolean', help: 'allocate a pseudo-terminal (with -i: our terminal in raw mode, its size follows ours, Ctrl-P Ctrl-Q detaches)', field: 'tty', apply: (b) => (b.tty = true) },
  interactive: { short: 'i', type: 'boolean', help: 'keep stdin open and stream ours into it (with -d: for skiff attach)', field: 'interactive', apply: (b) => (b.interactive = true) },
  rm: { type: 'boolean', help: 'remove the job\'s container and writable layer when it ends (its record and logs stay until skiff rm)', field: 'auto_remove', apply: (b) => (b.auto_remove = true) },
  restart: { type: 'string', value: 'POLICY', help: 'restart policy: no (default), on-failure[:N], always, unless-stopped', field: 'restart', apply: (b, v) => (b.restart = v) },
  backoff: {
    type: 'string', value: 'K=V,…', help: 'delay between restarts: initial=100ms,max=1m,factor=2,jitter=0,reset_after=10s (docker\'s numbers by default)', field: 'backoff',
    apply(b, v) {
      const out: Record<string, string | number> = {}
      for (const kv of (v as string).split(',').filter(Boolean)) {
        const [k, ...rest] = kv.split('=')
        const val = rest.join('=')
        if (!k || !val) throw usageError(`--backoff: expected KEY=VALUE, got ${JSON.stringify(kv)}`, '--backoff')
        out[k] = k === 'factor' || k === 'jitter' ? number(`--backoff ${k}`, val) : val
      }
      b.backoff = out
    },
  },
  'health-cmd': { type: 'string', value: 'CMD', help: 'healthcheck command, run in the job with /bin/sh -c', field: 'healthcheck.cmd', apply: (b, v) => (health(b).cmd = v as string) },
  'health-interval': { type: 'string', value: 'DURATION', help: 'time between healthchecks (default 30s)', field: 'healthcheck.interval', apply: (b, v) => (health(b).interval = v as string) },
  'health-timeout': { type: 'string', value: 'DURATION', help: 'a healthcheck running longer fails (default 30s)', field: 'healthcheck.timeout', apply: (b, v) => (health(b).timeout = v as string) },
  'health-retries': { type: 'string', value: 'N', help: 'consecutive failures that make the job unhealthy (default 3)', field: 'healthcheck.retries', apply: (b, v) => (health(b).retries = number('--health-retries', v as string)) },
  'health-start-period': { type: 'string', value: 'DURATION', help: 'failures this soon after the start do not count (default 0s)', field: 'healthcheck.start_period', apply: (b, v) => (health(b).start_period = v as string) },
  'health-start-interval': { type: 'string', value: 'DURATION', help: 'time between healthchecks during the start period (default 5s)', field: 'healthcheck.start_interval', apply: (b, v) => (health(b).start_interval = v as string) },
  'health-on-failure': { type: 'string', value: 'ACTION', help: 'what an unhealthy job gets: none (default), restart, stop, kill', field: 'on_unhealthy', apply: (b, v) => (b.on_unhealthy = v) },
  'no-healthcheck': { type: 'boolean', help: 'disable the image\'s HEALTHCHECK', field: 'healthcheck', apply: (b) => (b.healthcheck = 'none') },
  'stop-signal': { type: 'string', value: 'SIGNAL', help: 'signal a stop sends first (default: the image\'s STOPSIGNAL, else SIGTERM)', field: 'stop_signal', apply: (b, v) => (b.stop_signal = v) },
  'stop-timeout': { type: 'string', value: 'SECONDS', help: 'seconds between the stop signal and SIGKILL (default 10)', field: 'stop_timeout', apply: (b, v) => (b.stop_timeout = number('--stop-timeout', v as string)) },
  name: { type: 'string', value: 'NAME', help: 'a name to use instead of the id', field: 'name', apply: (b, v) => (b.name = v) },
  env: { short: 'e', type: 'multi', value: 'K=V', help: 'set an environment variable (-e NAME passes ours through)', field: 'env', apply: (b, v, io) => (b.env = { ...(b.env as object), ...keyValues(v as string[], '-e/--env', io.env) }) },
  'env-file': {
    type: 'multi', value: 'FILE', help: 'read environment variables from a file (KEY=VALUE lines, # comments)', field: 'env',
    apply(b, v, io) {
      for (const file of v as string[]) {
        let text: string
        try {
          text = io.readFile(file)
        } catch (e) {
          throw usageError(`--env-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, '--env-file')
        }
        // -e wins over --env-file, as in docker: file values first, then the -e ones on top
        b.env = { ...keyValues(parseEnvFile(text, file), `--env-file ${file}`, io.env), ...(b.env as object) }
      }
    },
  },
  label: { short: 'l', type: 'multi', value: 'K=V', help: 'set a label (ps -f label=K=V finds it)', field: 'labels', apply: (b, v, io) => (b.labels = keyValues(v as string[], '-l/--label', io.env)) },
  memory: { short: 'm', type: 'string', value: 'BYTES', help: 'memory limit, e.g. 256m, 1g (no swap)', field: 'limits.memory', apply: (b, v) => limit('memory', v)(b) },
  cpus: { type: 'string', value: 'N', help: 'CPU limit in cores, e.g. 0.5', field: 'limits.cpus', apply: (b, v) => limit('cpus', number('--cpus', v as string))(b) },
  'pids-limit': { type: 'string', value: 'N', help: 'max number of processes', field: 'limits.pids', apply: (b, v) => limit('pids', number('--pids-limit', v as string))(b) },
  pids: { type: 'string', value: 'N', hidden: true, help: 'same as --pids-limit', field: 'limits.pids', apply: (b, v) => limit('pids', number('--pids', v as string))(b) },
  disk: { type: 'string', value: 'BYTES', help: 'cap on what the job\'s writable layer holds, e.g. 512m (needs the data dir on btrfs with quotas: skiff doctor tells)', field: 'limits.disk', apply: (b, v) => limit('disk', v)(b) },
  'storage-opt': { type: 'multi', value: 'size=BYTES', help: 'docker\'s form of --disk (size= is the only option)', field: 'limits.disk', apply: (b, v) => limit('disk', storageSize(v as string[]))(b) },
  timeout: { type: 'string', value: 'DURATION', help: 'wall-clock limit, e.g. 30s, 5m: the job is killed and ends timed_out', field: 'limits.timeout', apply: (b, v) => limit('timeout', v)(b) },
  network: { type: 'string', value: 'NET', help: 'none (default without -p), host, bridge (the "default" network) or a network\'s name', field: 'network', apply: (b, v) => setNetwork(b, v as string) },
  net: { type: 'string', value: 'NET', hidden: true, help: 'same as --network', field: 'network', apply: (b, v) => setNetwork(b, v as string) },
  'network-alias': { type: 'multi', value: 'NAME', help: 'another name the job answers to on its network', field: 'network.aliases', apply: (b, v) => ((b.network as Record<string, unknown> | undefined) ?? (b.network = {}), ((b.network as Record<string, unknown>).aliases = v)) },
  publish: { short: 'p', type: 'multi', value: '[IP:][HOST:]PORT[/PROTO]', help: 'publish a port (docker syntax): on 127.0.0.1 unless an IP is given (0.0.0.0: every interface), a free host port unless given', field: 'ports', apply: (b, v) => (b.ports = v) },
  listen: { type: 'string', value: '[IP:]PORT', help: 'with --per-connection: skiff accepts TCP connections on this host port (127.0.0.1 unless an IP is given) and runs a fresh job for each', field: 'listen', apply: (b, v) => setListen(b, v as string) },
  'per-connection': { type: 'boolean', help: 'with --listen: each connection gets its own container, the connection as its stdin/stdout (xinetd style)', field: 'listen.per_connection', apply: (b) => (listenOf(b).per_connection = true) },
  'max-connections': { type: 'string', value: 'N', help: 'with --listen: connections served at once (default 100); one more is refused', field: 'listen.max_connections', apply: (b, v) => (listenOf(b).max_connections = number('--max-connections', v as string)) },
  'conn-timeout': { type: 'string', value: 'DURATION', help: 'with --listen: each connection\'s container is killed after this long, e.g. 30s', field: 'listen.timeout', apply: (b, v) => (listenOf(b).timeout = v as string) },
  'keep-connections': { type: 'string', value: 'N', help: 'with --listen: settled connection jobs kept with their logs (default 1000)', field: 'listen.keep', apply: (b, v) => (listenOf(b).keep = number('--keep-connections', v as string)) },
  user: { short: 'u', type: 'string', value: 'USER', help: 'user to run as: name, uid, uid:gid or name:group', field: 'user', apply: (b, v) => (b.user = v) },
  workdir: { short: 'w', type: 'string', value: 'DIR', help: 'working directory inside the job (absolute)', field: 'workdir', apply: (b, v) => (b.workdir = v) },
  hostname: { short: 'h', type: 'string', value: 'NAME', help: 'the job\'s hostname', field: 'hostname', apply: (b, v) => (b.hostname = v) },
  entrypoint: { type: 'string', value: 'CMD', help: 'override the image\'s entrypoint ("" clears it)', field: 'entrypoint', apply: (b, v) => (b.entrypoint = v) },
  init: { type: 'boolean', help: 'run the command under a small init (tini) as PID 1: signals reach it, zombies are reaped', field: 'init', apply: (b) => (b.init = true) },
  'read-only': { type: 'boolean', help: 'mount the image\'s root filesystem read-only', field: 'readonlyRootfs', apply: (b) => (b.readonlyRootfs = true) },
  'cap-add': { type: 'multi', value: 'CAP', help: 'add a Linux capability (e.g. NET_RAW); beyond the default set the daemon must allow it (--allow-cap)', field: 'capAdd', apply: (b, v) => (b.capAdd = v) },
  'cap-drop': { type: 'multi', value: 'CAP', help: 'drop a Linux capability from the default set (ALL drops every one)', field: 'capDrop', apply: (b, v) => (b.capDrop = v) },
  pull: { type: 'string', value: 'POLICY', help: 'pull the image: missing (default), always, never', field: 'pull', apply: (b, v) => (b.pull = v) },
  json: { type: 'boolean', help: 'print the job as JSON (with -d: at once; else when it ends)' },
}

/** docker's --storage-opt size=512m; the last size wins, like docker's map. */
function storageSize(opts: string[]): string {
  let size: string | undefined
  for (const o of opts) {
    const m = /^size=(.+)$/i.exec(o)
    if (!m) throw usageError(`--storage-opt: only size=BYTES is supported, got ${JSON.stringify(o)}`, '--storage-opt')
    size = m[1]!
  }
  return size!
}

const listenOf = (b: RunBody) => (b.listen ??= {}) as Record<string, unknown>

/** --listen 9000 | 127.0.0.1:9000 | 0.0.0.0:9000 */
function setListen(b: RunBody, v: string): void {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d+)$/.exec(v)
  if (!m) throw usageError(`--listen: expected [IP:]PORT, got ${JSON.stringify(v)}`, '--listen')
  const l = listenOf(b)
  l.port = number('--listen', m[2]!)
  if (m[1]) l.host_ip = m[1]
}

/** --per-connection and its companions mean nothing without --listen, and --listen nothing without --per-connection. */
function checkListen(b: RunBody): void {
  const l = b.listen as Record<string, unknown> | undefined
  if (!l) return
  if (l.port === undefined) {
    const flag = l.per_connection ? '--per-connection' : 'max_connections' in l ? '--max-connections' : 'keep' in l ? '--keep-connections' : '--conn-timeout'
    throw usageError(`${flag} needs --listen [IP:]PORT`, '--listen')
  }
  if (!l.per_connection) throw usageError('--listen needs --per-connection (a fresh container per connection is the only mode)', '--per-connection')
}

/** --network none|host|bridge is a mode, anything else a network's name (docker's rule). */
function setNetwork(b: RunBody, v: string): void {
  const n = (b.network ??= {}) as Record<string, unknown>
  if (v === 'none' || v === 'host' || v === 'bridge') n.mode = v
  else n.name = v
}

/** Flags + IMAGE CMD… → the POST /run body. Pure but for `io`. */
export function runBody(flags: Flags, positionals: readonly string[], io: RunIO = realRunIO): RunBody {
  const [image, ...cmd] = positionals
  const body: RunBody = { image }
  if (cmd.length) body.cmd = cmd
  // order-free: --env-file merges under what -e set, so -e wins either way (docker's rule)
  for (const [name, def] of Object.entries(RUN_FLAGS)) {
    const v = flags[name]
    if (v === undefined || v === false || !def.apply) continue
    def.apply(body, v, io)
  }
  checkListen(body)
  return body
}

/** The flag to blame for an API field ("limits.memory" → "-m/--memory"). */
export function flagForField(field: string, table: Record<string, RunFlag> = RUN_FLAGS): string | undefined {
  // the most specific field wins: network.aliases is --network-alias, not --network
  const hit = Object.entries(table)
    .filter(([, f]) => !f.hidden && f.field !== undefined && (field === f.field || field.startsWith(f.field + '.') || field.startsWith(f.field + '[')))
    .sort(([, a], [, b]) => b.field!.length - a.field!.length)[0]
  if (!hit) return undefined
  const [name, f] = hit
  return f.short ? `-${f.short}/--${name}` : `--${name}`
}

/** The daemon's INVALID_ARGUMENT about a field → the same error naming our flag. */
export function blameFlag(e: unknown): unknown {
  if (!isSkiffError(e) || e.kind !== 'invalid_argument' || !e.extra.field) return e
  const flag = flagForField(e.extra.field)
  if (!flag) return e
  const msg = e.message.startsWith(e.extra.field + ':') ? e.message.slice(e.extra.field.length + 1).trim() : e.message
  return new SkiffError(e.kind, e.code, `${flag}: ${msg}`, { ...e.extra, field: flag })
}
