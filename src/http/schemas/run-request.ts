import { z } from 'zod'
import { SkiffError } from '../../lib/errors.js'
import { parseBytes, parseDuration } from '../../lib/units.js'
import { DEFAULT_HOST_IP, DEFAULT_KEEP_CONNECTIONS, mergeEnv, parsePorts, resolveProcess, type RunSpec } from '../../scheduler/index.js'
import { parseReference, type ImageRecord } from '../../images/index.js'
import { execSizeProblem, limitsProblem, normalizeCap, type HostFacts } from '../../runtime/index.js'
import { serviceFields, toServiceSpec } from './service.js'

const envName = z.string().min(1).regex(/^[^=\0]+$/, 'must not contain "=" or NUL')
const noNul = z.string().regex(/^[^\0]*$/, 'must not contain NUL')
const size = z.union([z.string().min(1), z.number().int().nonnegative()])
const duration = z.union([z.string().min(1), z.number().nonnegative()])
const capList = z
  .array(z.string().max(64).refine((c) => normalizeCap(c) !== undefined, 'unknown capability (e.g. NET_RAW, CAP_SYS_PTRACE, ALL)'))
  .max(64)

export const DEFAULT_MAX_CONNECTIONS = 100

export const LimitsSchema = z
  .object({
    memory: size.optional().describe('hard memory limit, e.g. "256m" (swap is off)'),
    cpus: z.number().positive().max(1024).optional().describe('CPU share, e.g. 0.5 = half a core'),
    pids: z.number().int().min(1).max(4_194_304).optional().describe('max processes'),
    timeout: duration.optional().describe('wall-clock limit, e.g. "30s"; the job is killed and ends timed_out'),
    disk: size.optional().describe('bytes the job\'s writable layer may hold, e.g. "512m" (docker --storage-opt size=); a write past it fails in the job with EDQUOT ("Disk quota exceeded"). Needs the data dir on btrfs with quotas enabled (skiff doctor tells), else 400 DISK_LIMIT_UNAVAILABLE'),
  })
  .strict()

export const RunRequestSchema = z
  .object({
    image: z.string().min(1).max(1024).describe('image reference, e.g. busybox or host:5000/ns/name:tag'),
    cmd: z.union([noNul.min(1), z.array(noNul).min(1)]).optional().describe('a string runs under sh -c; an array runs as is'),
    entrypoint: z.union([noNul, z.array(noNul)]).optional(),
    env: z.record(envName, noNul).optional(),
    workdir: z.string().startsWith('/', 'must be an absolute path').optional(),
    user: z.string().min(1).regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'must be name, uid, uid:gid or name:group').optional(),
    hostname: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, 'must be a valid hostname').optional(),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}').optional(),
    labels: z.record(z.string().min(1).max(256), z.string().max(4096)).optional(),
    stdin: z.string().max(16 * 1024 * 1024).optional().describe('data written to the job\'s stdin, then EOF (with interactive: written first, stdin stays open)'),
    interactive: z.boolean().optional().describe('keep stdin open for writers: WebSocket /jobs/:id/attach and POST /jobs/:id/stdin (docker run -i)'),
    tty: z.boolean().optional().describe('a pseudo-terminal as the job\'s stdin/stdout/stderr (docker run -t); output is one stream (stdout), with CRLF line ends'),
    consoleSize: z.object({ rows: z.number().int().min(1).max(65535), cols: z.number().int().min(1).max(65535) }).strict().optional().describe('with tty: the terminal\'s initial size'),
    init: z.boolean().optional().describe('run the command under a small init (tini) as PID 1, which forwards signals and reaps zombies (docker run --init); without it a signal the command does not handle does nothing to PID 1'),
    limits: LimitsSchema.optional(),
    network: z
      .object({
        mode: z.enum(['none', 'host', 'bridge']).optional().describe('none (default without ports): only lo; host: the host\'s network; bridge: a skiff network (default when a name or ports are given)'),
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a network name').optional().describe('a network from /networks (bridge; default "default")'),
        aliases: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, 'must be a host name')).max(16).optional().describe('more names the job answers to on its network'),
      })
      .strict()
      .optional(),
    ports: z
      .array(z.string().min(1).max(64))
      .max(256)
      .optional()
      .describe('published ports, docker -p syntax: [hostIp:][hostPort:]containerPort[/tcp|udp] (ranges a-b too); host address 127.0.0.1 unless given (0.0.0.0: every interface); no hostPort: a free one'),
    listen: z
      .object({
        port: z.number().int().min(1).max(65535).describe('the host TCP port skiff accepts connections on'),
        host_ip: z.ipv4().optional().describe('the host address to listen on (default 127.0.0.1; 0.0.0.0: every interface, logged)'),
        per_connection: z.literal(true).describe('a fresh container for each connection, the connection as its stdin and stdout (xinetd, systemd Accept=yes); the only mode'),
        max_connections: z.number().int().min(1).max(10_000).optional().describe(`connections served at once (default ${DEFAULT_MAX_CONNECTIONS}); one more is refused (reset, counted)`),
        timeout: duration.optional().describe('each connection\'s container is killed after this long, e.g. "30s" (default: limits.timeout, else none)'),
        keep: z.number().int().min(0).max(1_000_000).optional().describe(`settled connection jobs kept with their logs (default ${DEFAULT_KEEP_CONNECTIONS}); older ones are removed as new ones end (the counts stay)`),
      })
      .strict()
      .optional()
      .describe('a per-connection service: this job is the listener (running while it listens); each connection is a child job with its own logs (GET /jobs?parent=ID)'),
    readonlyRootfs: z.boolean().optional(),
    capAdd: capList.optional().describe('capabilities added to the default set (Podman\'s: no NET_RAW, MKNOD, AUDIT_WRITE); one beyond the default needs the daemon\'s allowedCapabilities, else 403 CAPABILITY_NOT_ALLOWED'),
    capDrop: capList.optional().describe('capabilities removed from the default set; ALL drops every one'),
    pull: z.enum(['missing', 'always', 'never']).optional(),
    ...serviceFields,
  })
  .strict()

export type RunRequest = z.output<typeof RunRequestSchema>

const toArgv = (v: string | string[] | undefined, shell: boolean): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v : shell ? ['/bin/sh', '-c', v] : [v]

/** User-shaped request → RunSpec in skiff units. Throws INVALID_ARGUMENT naming the field. */
export function toRunSpec(r: RunRequest): RunSpec {
  const l = r.limits ?? {}
  const limits: RunSpec['limits'] = {}
  if (l.memory !== undefined) {
    limits.memoryBytes = parseBytes(l.memory, 'limits.memory')
    if (limits.memoryBytes < 4 * 1024 * 1024)
      throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'limits.memory: must be at least 4m', { field: 'limits.memory' })
  }
  if (l.disk !== undefined) limits.diskBytes = parseBytes(l.disk, 'limits.disk')
  if (l.cpus !== undefined) limits.cpus = l.cpus
  if (l.pids !== undefined) limits.pids = l.pids
  if (l.timeout !== undefined) {
    limits.timeoutMs = parseDuration(l.timeout, 'limits.timeout')
    if (limits.timeoutMs <= 0) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'limits.timeout: must be positive', { field: 'limits.timeout' })
  }
  // cmd as a string means a shell command line; with an entrypoint set, it is one argument.
  const cmd = toArgv(r.cmd, r.entrypoint === undefined)
  const entrypoint = r.entrypoint === undefined ? undefined : Array.isArray(r.entrypoint) ? r.entrypoint : r.entrypoint === '' ? [] : [r.entrypoint]
  return {
    image: r.image,
    ...(cmd ? { cmd } : {}),
    ...(entrypoint ? { entrypoint } : {}),
    env: r.env ?? {},
    ...(r.workdir ? { workdir: r.workdir } : {}),
    ...(r.user ? { user: r.user } : {}),
    ...(r.hostname ? { hostname: r.hostname } : {}),
    ...(r.name ? { name: r.name } : {}),
    labels: r.labels ?? {},
    ...(r.stdin !== undefined ? { stdin: r.stdin } : {}),
    ...(r.interactive ? { interactive: true } : {}),
    ...(r.init ? { init: true } : {}),
    ...(r.tty ? { tty: true, ...(r.consoleSize ? { consoleSize: r.consoleSize } : {}) } : {}),
    limits,
    ...network(r),
    ...listen(r),
    ...(r.readonlyRootfs ? { readonlyRootfs: true } : {}),
    ...(r.capAdd?.length ? { capAdd: [...new Set(r.capAdd.map((c) => normalizeCap(c)!))] } : {}),
    ...(r.capDrop?.length ? { capDrop: [...new Set(r.capDrop.map((c) => normalizeCap(c)!))] } : {}),
    pull: r.pull ?? 'missing',
    ...toServiceSpec(r),
  }
}

/** network + ports: bridge when a network name or ports are given (a `-p` should just work). */
function network(r: RunRequest): Pick<RunSpec, 'network' | 'ports'> {
  const n = r.network ?? {}
  const mode = n.mode ?? (n.name !== undefined || r.ports?.length ? 'bridge' : 'none')
  if (mode !== 'bridge') {
    if (n.name !== undefined) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `network.name: only a bridge network has a name (mode is ${mode})`, { field: 'network.name' })
    if (n.aliases?.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `network.aliases: only for a bridge network (mode is ${mode})`, { field: 'network.aliases' })
    if (r.ports?.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `ports: publishing needs a bridge network (mode is ${mode}${mode === 'host' ? ': the job already listens on the host' : ''})`, { field: 'ports' })
    return { network: { mode } }
  }
  const ports = parsePorts(r.ports ?? [])
  return {
    network: { mode, ...(n.name !== undefined ? { name: n.name } : {}), ...(n.aliases?.length ? { aliases: n.aliases } : {}) },
    ...(ports.length ? { ports } : {}),
  }
}

/** listen: a per-connection service. The connection is the job's stdin and
 *  stdout, so what else would claim them (a terminal, fixed stdin bytes) or reach
 *  the job another way (published ports) is a conflict. */
function listen(r: RunRequest): Pick<RunSpec, 'listen'> {
  const l = r.listen
  if (!l) return {}
  const bad = (field: string, why: string) => new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `${field}: ${why}`, { field })
  if (r.ports?.length) throw bad('listen', 'a per-connection service cannot also publish ports (the listener is its port)')
  if (r.tty) throw bad('tty', 'a per-connection service speaks bytes over its connection, not a terminal')
  if (r.stdin !== undefined) throw bad('stdin', 'a per-connection service\'s stdin is its connection')
  if (r.interactive) throw bad('interactive', 'each connection is its job\'s stdin already; attach to a connection\'s job instead')
  if (r.healthcheck !== undefined && r.healthcheck !== 'none') throw bad('healthcheck', 'a per-connection service has no long-running container to probe')
  let timeoutMs: number | undefined
  if (l.timeout !== undefined) {
    timeoutMs = parseDuration(l.timeout, 'listen.timeout')
    if (timeoutMs <= 0) throw bad('listen.timeout', 'must be positive')
    if (timeoutMs > 2 ** 31 - 1) throw bad('listen.timeout', 'must be at most 24 days')
  }
  return {
    listen: {
      hostIp: l.host_ip ?? DEFAULT_HOST_IP, port: l.port, perConnection: true, maxConnections: l.max_connections ?? DEFAULT_MAX_CONNECTIONS,
      ...(l.keep !== undefined ? { keep: l.keep } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    },
  }
}

/** What a job's command and environment will look like to execve, as far as the
 *  request and (when local) the image tell: with the image, exactly what the
 *  runtime will get (scheduler/container-spec.ts); without, the request's part. */
function execShape(spec: RunSpec, image: ImageRecord | undefined): { argv: string[]; env: string[] } {
  const id = '0'.repeat(26)
  if (image) {
    const p = resolveProcess({ job: { id, spec }, image })
    return { argv: p.args, env: p.env }
  }
  return { argv: [...(spec.entrypoint ?? []), ...(spec.cmd ?? [])], env: mergeEnv(undefined, spec.env, { hostname: spec.hostname ?? id.slice(-12) }) }
}

/** Everything about a run request that can be known before the job exists:
 *  limits the host can honour, an image reference that parses (or a local image),
 *  a command (when the image is local and will not be re-pulled), and a command
 *  line + environment execve can take. Throws the 4xx naming the field. */
export function checkRunnable(spec: RunSpec, host: HostFacts, image: ImageRecord | undefined): void {
  const limits = limitsProblem(spec.limits, host)
  if (limits) throw limits
  if (!image) {
    parseReference(spec.image)
    if (spec.pull === 'never')
      throw new SkiffError('failed_precondition', 'IMAGE_NOT_PRESENT', `image ${spec.image} is not present locally and pull is "never"`, { field: 'image' })
  }
  // resolveArgs throws NO_COMMAND for an image with neither Entrypoint nor Cmd; a pull
  // ("always", or a missing image) may bring another config, so only a local one is judged.
  const { argv, env } = execShape(spec, spec.pull === 'always' ? undefined : image)
  const size = execSizeProblem(argv, env, host)
  if (size) throw size
}
