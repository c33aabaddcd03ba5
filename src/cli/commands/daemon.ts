import { loadConfig, type ConfigInput } from '../../config.js'
import { nativeWith } from '../../lib/native.js'
import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '[flags]',
  description: 'Configuration: defaults ← JSON file (--config / SKIFF_CONFIG) ← environment (SKIFF_*) ← these flags.',
  local: true,
  flags: {
    config: { short: 'c', type: 'string', value: 'FILE', help: 'JSON config file (SKIFF_CONFIG)' },
    'data-dir': { type: 'string', value: 'DIR', help: 'state, images and logs (SKIFF_DATA_DIR, default /var/lib/skiff)' },
    socket: { type: 'string', value: 'PATH', help: 'unix socket of the API, "" for none (SKIFF_SOCKET, default /run/skiff/skiff.sock)' },
    listen: { type: 'string', value: 'HOST:PORT', help: 'TCP address of the API (token required), "" for none (SKIFF_LISTEN, default 127.0.0.1:7777)' },
    'allow-public-listen': { type: 'boolean', help: 'allow --listen on a non-loopback address' },
    runtime: { type: 'string', value: 'NAME', help: 'OCI runtime: crun (default), runc or runsc (SKIFF_RUNTIME)' },
    'max-concurrent': { type: 'string', value: 'N', help: 'jobs running at once, the rest queue (SKIFF_MAX_CONCURRENT, default 16)' },
    'max-memory': { type: 'string', value: 'BYTES', help: 'sum of running jobs\' memory limits, 0 = no cap (SKIFF_MAX_MEMORY)' },
    'insecure-registry': { type: 'multi', value: 'HOST[:PORT]', help: 'registry to reach over plain http (SKIFF_INSECURE_REGISTRIES, comma-separated)' },
    'allow-cap': { type: 'multi', value: 'CAP', help: 'a capability jobs may add beyond the default set, e.g. NET_RAW (SKIFF_ALLOWED_CAPABILITIES, comma-separated)' },
    platform: { type: 'string', value: 'OS/ARCH', help: 'platform of pulled images (SKIFF_PLATFORM, default linux/amd64)' },
    'default-subnet': { type: 'string', value: 'CIDR', help: 'subnet of the "default" bridge network (SKIFF_DEFAULT_SUBNET, default 10.77.0.0/16)' },
    'default-bridge': { type: 'string', value: 'NAME', help: 'host bridge of the "default" network (SKIFF_DEFAULT_BRIDGE, default skiff0)' },
    'network-pool': { type: 'string', value: 'CIDR', help: 'where new networks get a /24 when none is given (SKIFF_NETWORK_POOL, default 10.78.0.0/16)' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'trace, debug, info (default), warn, error, fatal, silent (SKIFF_LOG_LEVEL)' },
  },
  args: { max: 0 },
  async run({ flags: f }) {
    withDaemonFlags()
    const flags: Partial<ConfigInput> & { configFile?: string } = {
      configFile: f.config as string | undefined,
      dataDir: f['data-dir'] as string | undefined,
      socket: f.socket as string | undefined,
      listen: f.listen as string | undefined,
      allowPublicListen: f['allow-public-listen'] as boolean | undefined,
      runtime: f.runtime as ConfigInput['runtime'],
      maxConcurrent: f['max-concurrent'] === undefined ? undefined : Number(f['max-concurrent']),
      maxMemory: f['max-memory'] as string | undefined,
      insecureRegistries: f['insecure-registry'] as string[] | undefined,
      allowedCapabilities: f['allow-cap'] as string[] | undefined,
      platform: f.platform as string | undefined,
      logLevel: f['log-level'] as ConfigInput['logLevel'],
      defaultSubnet: f['default-subnet'] as string | undefined,
      defaultBridge: f['default-bridge'] as string | undefined,
      networkPool: f['network-pool'] as string | undefined,
    }
    const config = loadConfig(flags)
    const { startDaemon } = await import('../../daemon.js')
    let d: Awaited<ReturnType<typeof startDaemon>>
    try {
      d = await startDaemon(config)
    } catch (e) {
      // whatever it had opened (socket, timers, containers' watchers) must not keep us running
      process.stderr.write(`skiff: daemon: ${(e as Error).message}\n`)
      process.exit(1)
    }
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        d.log.info({ signal: sig }, 'stopping: containers keep running and are re-adopted at the next start')
        // Pending exit waits and log follows must not keep a stopping daemon alive:
        // the containers' monitors carry on without us.
        const force = setTimeout(() => process.exit(0), 5000)
        force.unref()
        d.stop().then(resolve, resolve)
      }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
    })
    process.exit(0)
  },
})

/** V8 flags for a long-running daemon. Node's default young generation grows to
 *  16 MiB semi-spaces: ~30 MiB resident that a daemon allocating small requests
 *  never needs (measured: the same 400 jobs in the same time, 25-30 MiB less RSS).
 *  --expose-gc: the idle reclaim's full GC (lib/idle-reclaim.ts). */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--expose-gc']

/** However the daemon was started (`skiff daemon`, `node bin/skiff.js daemon`, a
 *  unit file), re-run this very process with DAEMON_NODE_FLAGS: execve keeps the pid
 *  and stdio, and nothing is open yet. Without the addon it runs on as it is.
 *  SKIFF_DAEMON_EXEC=0 turns it off. */
function withDaemonFlags(): void {
  if (process.env.SKIFF_DAEMON_EXEC === '0') return
  const has = (flag: string) => process.execArgv.some((a) => a.split('=')[0] === flag.split('=')[0])
  // a profiler's SIGPROF timer outlives execve, and kills the new image before it can set a handler
  if (process.execArgv.some((a) => /^--(cpu-prof|prof)\b/.test(a))) return
  const missing = DAEMON_NODE_FLAGS.filter((fl) => !has(fl))
  const sys = nativeWith('execve')
  if (!missing.length || !sys?.execve) return
  try {
    sys.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`))
  } catch {
    /* could not: run with Node's defaults */
  }
}
