import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { SkiffError } from './lib/errors.js'
import { parseBytes } from './lib/units.js'
import { normalizeCap } from './runtime/index.js'

/** Daemon configuration: defaults ← JSON file ← environment ← flags, validated once. */
export const ConfigSchema = z
  .object({
    dataDir: z.string().min(1).default('/var/lib/skiff'),
    /** Unix socket for the API; '' disables it. */
    socket: z.string().default('/run/skiff/skiff.sock'),
    /** TCP listen address host:port; '' disables TCP. */
    listen: z.string().default('127.0.0.1:7777'),
    /** Binding TCP to a non-loopback address needs this explicit opt-in. */
    allowPublicListen: z.boolean().default(false),
    /** Fixed API token (otherwise generated into <dataDir>/token at first start). */
    token: z.string().min(16).optional(),
    runtime: z.enum(['crun', 'runc', 'runsc']).default('crun'),
    maxConcurrent: z.number().int().positive().default(16),
    /** Sum of memory limits of running jobs (bytes or "8g"); 0 = unlimited. */
    maxMemory: z.union([z.number(), z.string()]).default(0).transform((v) => parseBytes(v, 'maxMemory')),
    maxQueued: z.number().int().positive().default(10_000),
    /** Per-job cap on log file bytes kept on disk (oldest segments dropped; bytes or "64m"), like docker's max-size. */
    logMaxSize: z.union([z.number(), z.string()]).default('64m').transform((v) => parseBytes(v, 'logMaxSize')).refine((n) => n >= 64 * 1024, 'must be at least 64k'),
    platform: z.string().default('linux/amd64'),
    insecureRegistries: z.array(z.string()).default([]),
    /** Capabilities a job may add beyond the default set (e.g. ["NET_RAW"]; "ALL" allows any): otherwise 403. */
    allowedCapabilities: z
      .array(z.string().refine((c) => normalizeCap(c) !== undefined, 'unknown capability'))
      .default([])
      .transform((l) => l.map((c) => normalizeCap(c)!)),
    bodyLimit: z.number().int().positive().default(1024 * 1024),
    /** the `default` bridge network: its host bridge and IPv4 subnet (podman uses 10.88.0.0/16 and docker 172.17.0.0/16) */
    defaultBridge: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be an interface name of at most 15 characters').default('skiff0'),
    defaultSubnet: z.string().default('10.77.0.0/16'),
    /** where user networks created without a subnet get a /24 from */
    networkPool: z.string().default('10.78.0.0/16'),
    /** How long before its tick a scheduled run is prepared (image, rootfs, container
     *  created), so the tick only starts it; 0 decides ticks at their time. At most 1 s. */
    schedulePrepareMs: z.number().int().min(0).max(1000).default(1000),
    /** After this long without a job changing state, give memory back to the host
     *  (a full GC and malloc_trim, lib/idle-reclaim.ts); 0 never. */
    idleReclaimMs: z.number().int().min(0).default(1000),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .strict()

export type Config = z.output<typeof ConfigSchema>
export type ConfigInput = z.input<typeof ConfigSchema>

const ENV: Record<string, keyof ConfigInput> = {
  SKIFF_DATA_DIR: 'dataDir',
  SKIFF_SOCKET: 'socket',
  SKIFF_LISTEN: 'listen',
  SKIFF_TOKEN: 'token',
  SKIFF_RUNTIME: 'runtime',
  SKIFF_MAX_CONCURRENT: 'maxConcurrent',
  SKIFF_MAX_MEMORY: 'maxMemory',
  SKIFF_PLATFORM: 'platform',
  SKIFF_LOG_LEVEL: 'logLevel',
  SKIFF_LOG_MAX_SIZE: 'logMaxSize',
  SKIFF_DEFAULT_BRIDGE: 'defaultBridge',
  SKIFF_DEFAULT_SUBNET: 'defaultSubnet',
  SKIFF_NETWORK_POOL: 'networkPool',
  SKIFF_SCHEDULE_PREPARE_MS: 'schedulePrepareMs',
  SKIFF_IDLE_RECLAIM_MS: 'idleReclaimMs',
}
const NUMERIC = new Set<keyof ConfigInput>(['maxConcurrent', 'maxQueued', 'bodyLimit', 'schedulePrepareMs', 'idleReclaimMs'])

/** Pure: merge the layers and validate. */
export function parseConfig(file: unknown, env: NodeJS.ProcessEnv, flags: Partial<ConfigInput>): Config {
  const fromEnv: Record<string, unknown> = {}
  for (const [k, key] of Object.entries(ENV)) {
    const v = env[k]
    if (v !== undefined && v !== '') fromEnv[key] = NUMERIC.has(key) ? Number(v) : v
  }
  if (env.SKIFF_ALLOWED_CAPABILITIES) fromEnv.allowedCapabilities = env.SKIFF_ALLOWED_CAPABILITIES.split(',').map((s) => s.trim()).filter(Boolean)
  if (env.SKIFF_INSECURE_REGISTRIES) fromEnv.insecureRegistries = env.SKIFF_INSECURE_REGISTRIES.split(',').map((s) => s.trim()).filter(Boolean)
  const merged = { ...(file as object), ...fromEnv, ...stripUndefined(flags) }
  const r = ConfigSchema.safeParse(merged)
  if (!r.success) {
    const issue = r.error.issues[0]!
    const field = issue.path.join('.') || 'config'
    throw new SkiffError('invalid_argument', 'INVALID_CONFIG', `config ${field}: ${issue.message}`, { field })
  }
  // refused here, before the daemon opens anything: a refusal must end the process
  if (r.data.listen) {
    const { host } = parseListen(r.data.listen)
    if (!isLoopbackHost(host) && !r.data.allowPublicListen)
      throw new SkiffError('invalid_argument', 'PUBLIC_LISTEN_REFUSED', `listen: ${host} is not a loopback address; pass --allow-public-listen to expose the API`, { field: 'listen' })
  }
  return r.data
}

/** "host:port", "[::1]:port" or ":port" (127.0.0.1). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(listen)
  if (!m || Number(m[2]) > 65535) throw new SkiffError('invalid_argument', 'INVALID_CONFIG', `listen: expected host:port, got ${JSON.stringify(listen)}`, { field: 'listen' })
  return { host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) }
}

export function loadConfig(flags: Partial<ConfigInput> & { configFile?: string } = {}, env = process.env): Config {
  const { configFile, ...rest } = flags
  const path = configFile ?? env.SKIFF_CONFIG
  let file: unknown = {}
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8'))
    } catch (e) {
      throw new SkiffError('invalid_argument', 'INVALID_CONFIG', `config file ${path}: ${(e as Error).message}`, { cause: e })
    }
  }
  return parseConfig(file, env, rest)
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Loopback hosts the API may bind without an explicit opt-in. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
