import { describe, expect, it } from 'vitest'
import { keyValues, parseArgv, parseEnvFile } from '../../../src/cli/argv.js'

const spec = {
  detach: { short: 'd', type: 'boolean' }, interactive: { short: 'i', type: 'boolean' }, tty: { short: 't', type: 'boolean' },
  all: { short: 'a', type: 'boolean' }, quiet: { short: 'q', type: 'boolean' },
  env: { short: 'e', type: 'multi' }, memory: { short: 'm', type: 'string' }, name: { type: 'string' },
} as const

describe('parseArgv', () => {
  it('stops at the first positional so the command keeps its own flags', () => {
    const p = parseArgv(['-d', '-e', 'A=1', '--memory=64m', 'busybox', 'sh', '-c', 'echo -e hi'], spec, { stopAtPositional: true })
    expect(p.flags).toEqual({ detach: true, env: ['A=1'], memory: '64m' })
    expect(p.positionals).toEqual(['busybox', 'sh', '-c', 'echo -e hi'])
  })
  it.each([
    { argv: ['-aq'], flags: { all: true, quiet: true } },
    { argv: ['-dit'], flags: { detach: true, interactive: true, tty: true } },
    { argv: ['-ti'], flags: { tty: true, interactive: true } },
    { argv: ['-m256m', '--name', 'x'], flags: { memory: '256m', name: 'x' } },
    { argv: ['-m=256m'], flags: { memory: '256m' } },
    { argv: ['-dm', '64m'], flags: { detach: true, memory: '64m' } },
    { argv: ['-deA=1', '-e', 'B=2'], flags: { detach: true, env: ['A=1', 'B=2'] } },
    { argv: ['--detach=false'], flags: { detach: false } },
  ])('combines short flags like docker: $argv', ({ argv, flags }) => {
    expect(parseArgv(argv, spec).flags).toEqual(flags)
  })
  it('keeps -- and what follows as positionals', () => {
    expect(parseArgv(['-d', '--', '-x', 'y'], spec)).toEqual({ flags: { detach: true }, positionals: ['-x', 'y'] })
  })
  it.each([
    { argv: ['--nope'], field: 'nope' },
    { argv: ['-x'], field: '-x' },
    { argv: ['-ax'], field: '-x' },
    { argv: ['--name'], field: 'name' },
    { argv: ['-dm'], field: '-m' },
  ])('names the flag at fault: $argv', ({ argv, field }) => {
    expect(() => parseArgv(argv, spec)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: { field } }))
  })
})

describe('keyValues', () => {
  it('splits on the first =', () => expect(keyValues(['A=1', 'B=x=y'], '-e')).toEqual({ A: '1', B: 'x=y' }))
  it('passes a bare NAME through from our environment, drops it when unset', () => {
    expect(keyValues(['HOME', 'NOPE_NOT_SET'], '-e', { HOME: '/root' })).toEqual({ HOME: '/root' })
  })
  it('rejects a pair without a key, naming the flag', () => {
    expect(() => keyValues(['=1'], '-e/--env')).toThrow(expect.objectContaining({ extra: { field: '-e/--env' } }))
  })
})

describe('parseEnvFile', () => {
  it('reads docker\'s format: KEY=VALUE, bare KEY, comments and blank lines, no unquoting', () => {
    expect(parseEnvFile('# comment\nA=1\n\n  B="two words"\nC\r\nD=x=y\n', 'f')).toEqual(['A=1', 'B="two words"', 'C', 'D=x=y'])
  })
  it('names the file and line of a bad variable name', () => {
    expect(() => parseEnvFile('A=1\nBAD NAME=2\n', 'my.env')).toThrow(/my\.env:2/)
  })
})
