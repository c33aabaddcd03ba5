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
    ['killed', 'queued', true],
    ['running', 'backoff', true],
    ['backoff', 'queued', true],
    ['backoff', 'running', false],
    ['backoff', 'stopped', true],
    ['pulling', 'queued', true],
    ['running', 'queued', false],
    ['stopped', 'running', false],
    ['queued', 'backoff', false],
  ] as const)('%s → %s allowed: %s', (from, to, ok) => expect(canTransition(from, to)).toBe(ok))

  it('a settled job moves only when it is queued again (a user start, or a boot under its policy)', () => {
    for (const s of JOB_STATES) if (isFinal(s)) for (const t of JOB_STATES) expect(canTransition(s, t)).toBe(t === 'queued')
  })

  it('every state but the settled ones can reach a settled one, and every settled state is reachable', () => {
    const reach = (from: string, seen = new Set<string>()): Set<string> => {
      for (const t of JOB_STATES) if (canTransition(from as never, t) && !seen.has(t)) { seen.add(t); reach(t, seen) }
      return seen
    }
    for (const s of JOB_STATES) expect([...reach(s)].some((t) => isFinal(t as never)), s).toBe(true)
    const fromQueued = reach('queued')
    for (const s of JOB_STATES) if (isFinal(s)) expect(fromQueued.has(s), s).toBe(true)
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

  it.each([
    [{ oomKilled: false, timedOut: false }, { stoppedByUser: true }, 'stopped'],
    [{ oomKilled: false, timedOut: false }, { stoppedByUser: true, killedByUser: true }, 'stopped'],
    [{ oomKilled: false, timedOut: true }, { stoppedByUser: true }, 'timed_out'],
  ] as const)('exit %o by %o → %s', (exit, by, want) => expect(finalStateFor(exit, by)).toBe(want))
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
