import { describe, expect, it } from 'vitest'
import { parseArgv } from '../../../src/cli/argv.js'
import { blameCronFlag, CRON_ADD_FLAGS, cronAddBody } from '../../../src/cli/cron-flags.js'
import { SkiffError } from '../../../src/lib/errors.js'

const io = { env: {}, readFile: () => '', warn: () => {} }
const body = (argv: string[]) => {
  const p = parseArgv(argv, CRON_ADD_FLAGS, { stopAtPositional: true })
  return cronAddBody(p.flags, p.positionals, io)
}

describe('skiff cron add', () => {
  it('builds the POST /schedules body: schedule flags at the top, run flags into job, CMD verbatim', () => {
    expect(body(['--tz', 'Europe/Berlin', '--concurrency', 'forbid', '--catch-up', 'all', '--max-catch-up', '2', '--keep-success', '5', '--starting-deadline', '10m', '-e', 'A=1', '-m', '64m', 'backup', '*/5 * * * *', 'busybox', 'sh', '-c', 'echo -n hi'])).toEqual({
      name: 'backup', cron: '*/5 * * * *', timezone: 'Europe/Berlin', concurrency: 'forbid', catch_up: 'all', max_catch_up: 2, history: { success: 5 }, starting_deadline: '10m',
      job: { image: 'busybox', cmd: ['sh', '-c', 'echo -n hi'], env: { A: '1' }, limits: { memory: '64m' } },
    })
    expect(body(['--suspend', 'n', '@daily', 'busybox'])).toEqual({ name: 'n', cron: '@daily', suspend: true, job: { image: 'busybox' } })
  })
  it('refuses what a schedule cannot take, and a missing IMAGE', () => {
    expect(() => body(['-d', 'n', '@daily', 'busybox'])).toThrow(/unknown shorthand flag/)
    expect(() => body(['--name', 'x', 'n', '@daily', 'busybox'])).toThrow(/unknown flag/)
    expect(() => body(['n', '@daily'])).toThrow(/usage: skiff cron add/)
    expect(() => body(['--max-catch-up', 'lots', 'n', '@daily', 'busybox'])).toThrow(/--max-catch-up/)
  })
  it('names our flag (or the positional) in the daemon\'s field errors', () => {
    const e = (field: string, msg: string) => blameCronFlag(new SkiffError('invalid_argument', 'X', `${field}: ${msg}`, { field })) as SkiffError
    expect(e('timezone', 'bad').message).toBe('--tz: bad')
    expect(e('cron', 'has 3 fields').message).toBe('SCHEDULE: has 3 fields')
    expect(e('history.success', 'too big').message).toBe('--keep-success: too big')
    expect(e('job.limits.memory', 'must be at least 4m').message).toBe('-m/--memory: must be at least 4m')
    expect(e('job.image', 'required').message).toBe('job.image: required')
  })
})
