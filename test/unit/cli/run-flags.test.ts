import { describe, expect, it } from 'vitest'
import { parseArgv } from '../../../src/cli/argv.js'
import { blameFlag, flagForField, RUN_FLAGS, runBody, type RunIO } from '../../../src/cli/run-flags.js'
import { SkiffError } from '../../../src/lib/errors.js'

const io = (files: Record<string, string> = {}, env: NodeJS.ProcessEnv = {}): RunIO & { warnings: string[] } => {
  const warnings: string[] = []
  return {
    env, warnings, warn: (m) => warnings.push(m),
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' })
      return files[p]!
    },
  }
}
const body = (argv: string[], o = io()) => {
  const p = parseArgv(argv, RUN_FLAGS, { stopAtPositional: true })
  return runBody(p.flags, p.positionals, o)
}

describe('skiff run flags → POST /run body', () => {
  it.each([
    { argv: ['busybox'], want: { image: 'busybox' } },
    { argv: ['-m', '64m', '--cpus', '0.5', '--pids-limit', '10', '--timeout', '5s', 'busybox', 'true'], want: { image: 'busybox', cmd: ['true'], limits: { memory: '64m', cpus: 0.5, pids: 10, timeout: '5s' } } },
    { argv: ['-dit', '--name', 'x', 'busybox', 'sh'], want: { image: 'busybox', cmd: ['sh'], interactive: true, tty: true, name: 'x' } },
    { argv: ['--init', 'busybox', 'sleep', '9'], want: { image: 'busybox', cmd: ['sleep', '9'], init: true } },
    { argv: ['--read-only', '--pull', 'never', '-u', 'nobody', '-w', '/tmp', '-h', 'box', '--network', 'host', 'busybox'], want: { image: 'busybox', readonlyRootfs: true, pull: 'never', user: 'nobody', workdir: '/tmp', hostname: 'box', network: { mode: 'host' } } },
    { argv: ['-l', 'a=1', '-l', 'b=2', 'busybox'], want: { image: 'busybox', labels: { a: '1', b: '2' } } },
    { argv: ['--entrypoint', '', 'busybox', 'echo'], want: { image: 'busybox', cmd: ['echo'], entrypoint: '' } },
    { argv: ['-p', '8080:80', '-p', '0.0.0.0::53/udp', 'busybox'], want: { image: 'busybox', ports: ['8080:80', '0.0.0.0::53/udp'] } },
    { argv: ['--network', 'backend', '--network-alias', 'db', '--network-alias', 'pg', 'busybox'], want: { image: 'busybox', network: { name: 'backend', aliases: ['db', 'pg'] } } },
    { argv: ['--disk', '512m', 'busybox'], want: { image: 'busybox', limits: { disk: '512m' } } },
    { argv: ['--storage-opt', 'size=1g', 'busybox'], want: { image: 'busybox', limits: { disk: '1g' } } },
    { argv: ['--net', 'bridge', 'busybox'], want: { image: 'busybox', network: { mode: 'bridge' } } },
    { argv: ['--listen', '9000', '--per-connection', 'chal'], want: { image: 'chal', listen: { port: 9000, per_connection: true } } },
    { argv: ['--listen', '127.0.0.2:9000', '--per-connection', '--max-connections', '20', '--conn-timeout', '30s', '--keep-connections', '50', 'chal', '/chal'], want: { image: 'chal', cmd: ['/chal'], listen: { port: 9000, host_ip: '127.0.0.2', per_connection: true, max_connections: 20, timeout: '30s', keep: 50 } } },
  ])('$argv', ({ argv, want }) => {
    expect(body(argv)).toEqual(want)
  })

  it('--env-file: file values under -e ones, bare names from our environment', () => {
    const o = io({ 'a.env': '# x\nA=file\nB=file\nHOME\n' }, { HOME: '/root' })
    expect(body(['-e', 'A=flag', '--env-file', 'a.env', 'busybox'], o).env).toEqual({ A: 'flag', B: 'file', HOME: '/root' })
  })
  it('--env-file of a missing file names the flag and the file', () => {
    expect(() => body(['--env-file', 'nope.env', 'busybox'])).toThrow(expect.objectContaining({ message: expect.stringMatching(/--env-file: cannot read nope\.env: ENOENT/) }))
  })
  it('--cpus that is not a number names the flag', () => {
    expect(() => body(['--cpus', 'lots', 'busybox'])).toThrow(expect.objectContaining({ extra: { field: '--cpus' } }))
  })
  it('--storage-opt other than size= names the flag', () => {
    expect(() => body(['--storage-opt', 'dm.basesize=1g', 'busybox'])).toThrow(expect.objectContaining({ extra: { field: '--storage-opt' }, message: expect.stringMatching(/only size=BYTES/) }))
  })
  it.each([
    [['--per-connection', 'chal'], '--listen', /--per-connection needs --listen/],
    [['--max-connections', '5', 'chal'], '--listen', /--max-connections needs --listen/],
    [['--listen', '9000', 'chal'], '--per-connection', /--listen needs --per-connection/],
    [['--listen', 'localhost:9000', '--per-connection', 'chal'], '--listen', /expected \[IP:\]PORT/],
    [['--listen', '9000', '--per-connection', '--max-connections', 'many', 'chal'], '--max-connections', /not a number/],
  ])('%j: a usage error naming %s', (argv, flag, msg) => {
    expect(() => body(argv)).toThrow(expect.objectContaining({ extra: { field: flag }, message: expect.stringMatching(msg) }))
  })
  it('-t asks for a pseudo-terminal', () => {
    const o = io()
    expect(body(['-ti', 'busybox'], o)).toEqual({ image: 'busybox', interactive: true, tty: true })
    expect(o.warnings).toHaveLength(0)
  })
  it('every flag has help text', () => {
    for (const [name, f] of Object.entries(RUN_FLAGS)) expect(f.help.length, name).toBeGreaterThan(5)
  })
})

describe('API fields → the flag to blame', () => {
  it.each([
    ['limits.memory', '-m/--memory'], ['limits.cpus', '--cpus'], ['limits.pids', '--pids-limit'], ['limits.timeout', '--timeout'], ['limits.disk', '--disk'],
    ['env.FOO', '-e/--env'], ['labels', '-l/--label'], ['network.mode', '--network'], ['network.aliases', '--network-alias'], ['ports[1]', '-p/--publish'], ['ports', '-p/--publish'], ['user', '-u/--user'], ['image', undefined],
    ['listen.port', '--listen'], ['listen.host_ip', '--listen'], ['listen', '--listen'], ['listen.per_connection', '--per-connection'], ['listen.max_connections', '--max-connections'], ['listen.timeout', '--conn-timeout'], ['listen.keep', '--keep-connections'],
  ])('%s → %s', (field, flag) => expect(flagForField(field)).toBe(flag))

  it('rewrites the daemon\'s message to name the flag, keeps the code', () => {
    const e = blameFlag(new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'limits.memory: invalid size "lots"', { field: 'limits.memory' }))
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', message: '-m/--memory: invalid size "lots"', extra: { field: '-m/--memory' } })
  })
  it('leaves other errors alone', () => {
    const e = new SkiffError('not_found', 'IMAGE_NOT_FOUND', 'image x: not found')
    expect(blameFlag(e)).toBe(e)
  })
})
