import { describe, expect, it } from 'vitest'
import { admit } from '../../../src/scheduler/admission.js'
import { assertTransition, canTransition, finalStateFor, isFinal, JOB_STATES } from '../../../src/scheduler/job-state.js'

describe('job state machine', () => {
  it.each([
    ['queued', 'pulling', true],
    ['pulling', 'starting', true],
    ['starting', 'running', true],
    ['running', 'exited', true],
    ['running', 'oom', true],
    ['exited', 'running', false],
    ['queued', 'running', false],
    ['killed', 'queued', false],
  ] as const)('%s → %s allowed: %s', (from, to, ok) => expect(canTransition(from, to)).toBe(ok))

  it('final states have no way out', () => {
    for (const s of JOB_STATES) if (isFinal(s)) for (const t of JOB_STATES) expect(canTransition(s, t)).toBe(false)
  })

  it('an illegal transition is a conflict naming both states', () => {
    expect(() => assertTransition('j1', 'exited', 'running')).toThrow(expect.objectContaining({ code: 'INVALID_TRANSITION', kind: 'conflict' }))
  })

  it.each([
    [{ oomKilled: false, timedOut: false }, false, 'exited'],
    [{ oomKilled: true, timedOut: false }, false, 'oom'],
    [{ oomKilled: false, timedOut: true }, false, 'timed_out'],
    [{ oomKilled: false, timedOut: false }, true, 'killed'],
    [{ oomKilled: true, timedOut: false }, true, 'oom'],
  ] as const)('exit %o killedByUser=%s → %s', (exit, byUser, want) => expect(finalStateFor(exit, byUser)).toBe(want))
})

describe('admission', () => {
  const q = (n: number, mem = 0) => Array.from({ length: n }, (_, i) => ({ id: `j${i}`, memoryBytes: mem }))
  it('fills free slots in FIFO order', () => {
    expect(admit(q(5), { count: 6, memoryBytes: 0 }, { maxConcurrent: 8, maxMemory: 0 })).toEqual(['j0', 'j1'])
  })
  it('admits nothing at capacity', () => {
    expect(admit(q(3), { count: 8, memoryBytes: 0 }, { maxConcurrent: 8, maxMemory: 0 })).toEqual([])
  })
  it('respects the memory budget and keeps FIFO (a big job blocks those behind it)', () => {
    const queue = [{ id: 'a', memoryBytes: 100 }, { id: 'big', memoryBytes: 900 }, { id: 'c', memoryBytes: 10 }]
    expect(admit(queue, { count: 1, memoryBytes: 500 }, { maxConcurrent: 8, maxMemory: 1000 })).toEqual(['a'])
  })
  it('lets an over-budget job run alone instead of blocking forever', () => {
    expect(admit([{ id: 'huge', memoryBytes: 5000 }], { count: 0, memoryBytes: 0 }, { maxConcurrent: 8, maxMemory: 1000 })).toEqual(['huge'])
  })
})
