import { join } from 'node:path'
import { loadConfig, type ConfigInput } from '../../config.js'
import { TokenFile } from '../../lib/token.js'
import { parseArgv } from '../argv.js'

const DAEMON_FLAGS = {
  config: { short: 'c', type: 'string' },
  'data-dir': { type: 'string' },
  socket: { type: 'string' },
  listen: { type: 'string' },
  'allow-public-listen': { type: 'boolean' },
  runtime: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'max-memory': { type: 'string' },
  'insecure-registry': { type: 'multi' },
  platform: { type: 'string' },
  'log-level': { type: 'string' },
} as const

export async function daemon(argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, DAEMON_FLAGS)
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
    platform: f.platform as string | undefined,
    logLevel: f['log-level'] as ConfigInput['logLevel'],
  }
  const config = loadConfig(flags)
  const { startDaemon } = await import('../../daemon.js')
  const d = await startDaemon(config)
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
}

export async function doctor(argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, { json: { type: 'boolean' }, 'data-dir': { type: 'string' } })
  const { runDoctor } = await import('../../runtime/index.js')
  const { dataDirFindings } = await import('../../data-dir.js')
  const dir = (f['data-dir'] as string | undefined) ?? process.env.SKIFF_DATA_DIR ?? '/var/lib/skiff'
  const findings = [...(await runDoctor()), ...dataDirFindings(dir)]
  if (f.json) {
    console.log(JSON.stringify(findings, null, 2))
  } else {
    for (const x of findings) {
      console.log(`${x.ok ? 'ok  ' : 'FAIL'}  ${x.check}: ${x.message}`)
      if (!x.ok && x.fix) console.log(`      fix: ${x.fix}`)
    }
  }
  return findings.every((x) => x.ok || x.severity === 'warn') ? 0 : 1
}

export async function token(argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, { rotate: { type: 'boolean' }, 'data-dir': { type: 'string' } })
  const dir = (f['data-dir'] as string | undefined) ?? process.env.SKIFF_DATA_DIR ?? '/var/lib/skiff'
  const t = new TokenFile(join(dir, 'token'))
  if (f.rotate) t.write(TokenFile.generate())
  else t.ensure()
  console.log(t.current())
  return 0
}
