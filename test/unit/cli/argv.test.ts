import { describe, expect, it } from 'vitest'
import { keyValues, parseArgv } from '../../../src/cli/argv.js'

const spec = { detach: { short: 'd', type: 'boolean' }, env: { short: 'e', type: 'multi' }, memory: { short: 'm', type: 'string' }, name: { type: 'string' } } as const

describe('parseArgv', () => {
  it('stops at the first positional so the command keeps its own flags', () => {
    const p = parseArgv(['-d', '-e', 'A=1', '--memory=64m', 'busybox', 'sh', '-c', 'echo -e hi'], spec, { stopAtPositional: true })
    expect(p.flags).toEqual({ detach: true, env: ['A=1'], memory: '64m' })
    expect(p.positionals).toEqual(['busybox', 'sh', '-c', 'echo -e hi'])
  })
  it('accepts -mVALUE and --name value', () => {
    expect(parseArgv(['-m256m', '--name', 'x'], spec).flags).toEqual({ memory: '256m', name: 'x' })
  })
  it('names an unknown flag', () => {
    expect(() => parseArgv(['--nope'], spec)).toThrow(/--nope/)
  })
  it('names a flag missing its value', () => {
    expect(() => parseArgv(['--name'], spec)).toThrow(/--name needs a value/)
  })
})

describe('keyValues', () => {
  it('splits on the first =', () => expect(keyValues(['A=1', 'B=x=y'], 'env')).toEqual({ A: '1', B: 'x=y' }))
  it('rejects a pair without a key', () => expect(() => keyValues(['=1'], 'env')).toThrow(/--env/))
})
