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

describe('container ids', () => {
  it.each([
    ['01ABC.1', '01ABC'], ['01ABC.12', '01ABC'], ['01ABC', '01ABC'], ['my.job.3', 'my.job'],
  ])('%s belongs to job %s', async (c, j) => {
    const { jobIdOfContainer, containerIdFor } = await import('../../../src/scheduler/job-repo.js')
    expect(jobIdOfContainer(c)).toBe(j)
    expect(jobIdOfContainer(containerIdFor(j, 7))).toBe(j)
  })
})
