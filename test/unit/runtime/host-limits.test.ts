import { describe, expect, it } from 'vitest'
import { execArgMax, execSizeProblem, limitsProblem, MAX_ARG_STRLEN, MAX_TIMEOUT_MS, parseStackSoftLimit, type HostFacts } from '../../../src/runtime/host-limits.js'

const host: HostFacts = { cpus: 2, memoryBytes: 8 * 1024 ** 3, stackSoftLimit: 8 * 1024 * 1024 }

describe('limitsProblem', () => {
  it.each([
    [{ cpus: 0.0001 }, 'limits.cpus'],
    [{ cpus: 0.0099 }, 'limits.cpus'], // quota 990 µs < 1000
    [{ cpus: 2.5 }, 'limits.cpus'],
    [{ memoryBytes: 1.1e23 }, 'limits.memory'],
    [{ memoryBytes: 8 * 1024 ** 3 + 1 }, 'limits.memory'],
    [{ timeoutMs: 99_999_999 * 3_600_000 }, 'limits.timeout'],
    [{ timeoutMs: MAX_TIMEOUT_MS + 1 }, 'limits.timeout'],
  ])('%j → 400 naming %s', (limits, field) => {
    expect(limitsProblem(limits, host)).toMatchObject({ code: 'INVALID_ARGUMENT', extra: { field } })
  })
  it.each([[{}], [{ cpus: 0.01 }], [{ cpus: 0.009996 }], [{ cpus: 2 }], [{ memoryBytes: 4 * 1024 ** 2 }], [{ memoryBytes: 8 * 1024 ** 3 }], [{ timeoutMs: 30 * 86_400_000 }], [{ timeoutMs: MAX_TIMEOUT_MS }]])(
    '%j is fine',
    (limits) => expect(limitsProblem(limits, host)).toBeUndefined(),
  )
  it('the CPU bound follows the host', () => {
    expect(limitsProblem({ cpus: 3 }, { ...host, cpus: 4 })).toBeUndefined()
    expect(limitsProblem({ cpus: 3 }, { ...host, cpus: 1 })).toMatchObject({ extra: { field: 'limits.cpus' } })
  })
})

describe('execve limits', () => {
  it.each([
    [8 * 1024 * 1024, 2 * 1024 * 1024], // getconf ARG_MAX with ulimit -s 8192
    [Infinity, 6 * 1024 * 1024], // unlimited stack: 3/4 of _STK_LIM
    [256 * 1024, 128 * 1024], // the ARG_MAX floor
    [64 * 1024 * 1024, 6 * 1024 * 1024],
  ])('stack %d → budget %d', (stack, budget) => expect(execArgMax(stack)).toBe(budget))

  it('one variable longer than MAX_ARG_STRLEN names it', () => {
    const big = `BIG=${'x'.repeat(MAX_ARG_STRLEN)}`
    expect(execSizeProblem(['sh'], ['A=1', big], host)).toMatchObject({ extra: { field: 'env.BIG' } })
    expect(execSizeProblem(['sh'], [`BIG=${'x'.repeat(MAX_ARG_STRLEN - 5)}`], host)).toBeUndefined() // 131071 bytes + NUL
    expect(execSizeProblem(['sh'], [`BIG=${'x'.repeat(MAX_ARG_STRLEN - 4)}`], host)).toMatchObject({ extra: { field: 'env.BIG' } })
  })
  it('an argument too long names cmd', () => {
    expect(execSizeProblem(['echo', 'y'.repeat(MAX_ARG_STRLEN)], [], host)).toMatchObject({ extra: { field: 'cmd' } })
  })
  it('the total counts strings and pointers against the stack-derived budget', () => {
    const vars = Array.from({ length: 20 }, (_, i) => `V${i}=${'z'.repeat(120_000)}`) // 2.4 MB > 2 MiB
    expect(execSizeProblem(['sh'], vars, host)).toMatchObject({ extra: { field: 'env' } })
    expect(execSizeProblem(['sh'], vars, { ...host, stackSoftLimit: Infinity })).toBeUndefined()
    expect(execSizeProblem(['sh'], vars.slice(0, 15), host)).toBeUndefined()
  })
  it('reads the soft stack limit', () => {
    expect(parseStackSoftLimit('Max cpu time              unlimited            unlimited            seconds\nMax stack size            8388608              unlimited            bytes\n')).toBe(8388608)
    expect(parseStackSoftLimit('Max stack size            unlimited            unlimited            bytes\n')).toBe(Infinity)
  })
})
