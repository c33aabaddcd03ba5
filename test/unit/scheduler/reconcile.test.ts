import { describe, expect, it } from 'vitest'
import { bootAction } from '../../../src/scheduler/reconcile.js'

describe('what a starting daemon does with each job', () => {
  it.each([
    ['queued', false, 'no', 'none'],
    ['backoff', false, 'always', 'arm-backoff'],
    ['pulling', false, 'no', 'requeue'],
    ['starting', false, 'no', 'adopt'],
    ['running', false, 'on-failure', 'adopt'],
    ['exited', false, 'no', 'none'],
    ['stopped', true, 'always', 'start'],
    ['stopped', true, 'unless-stopped', 'none'],
    ['killed', false, 'unless-stopped', 'start'],
    ['failed', false, 'on-failure', 'none'],
  ] as const)('%s (stoppedByUser=%s, restart %s) → %s', (state, stoppedByUser, mode, want) =>
    expect(bootAction({ state, stoppedByUser, restart: { mode } })).toBe(want))
})
