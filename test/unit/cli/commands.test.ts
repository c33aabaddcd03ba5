import { describe, expect, it } from 'vitest'
import { COMMANDS, type CommandEntry } from '../../../src/cli/commands/index.js'
import { commandHelp, mainHelp } from '../../../src/cli/help.js'
import { EXIT, exitCodeOf } from '../../../src/cli/exit.js'

const all = (t: readonly CommandEntry[], prefix = ''): [string, CommandEntry][] =>
  t.flatMap((c) => (c.sub ? all(c.sub, `${prefix}${c.name} `) : [[`${prefix}${c.name}`, c] as [string, CommandEntry]]))

describe('the command table', () => {
  it('every command loads, and its help lists every flag it accepts', async () => {
    const entries = all(COMMANDS)
    expect(entries.length).toBeGreaterThan(20)
    for (const [path, e] of entries) {
      const cmd = (await e.load!()).default
      const help = commandHelp(path, e.summary, cmd)
      for (const [name, f] of Object.entries(cmd.flags)) {
        if (f.hidden) continue
        expect(help, `${path} --${name}`).toContain(`--${name}`)
        expect(f.help.length, `${path} --${name} help`).toBeGreaterThan(3)
      }
    }
  })
  it('names are unique and every top-level command is in the main help', () => {
    const names = COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])])
    expect(new Set(names).size).toBe(names.length)
    const help = mainHelp(COMMANDS)
    for (const c of COMMANDS) expect(help).toMatch(new RegExp(`^  ${c.name} `, 'm'))
  })
})

describe('exit codes (docker\'s)', () => {
  it.each([
    [{ exitCode: 3, signal: null }, 3],
    [{ exitCode: null, signal: 'SIGKILL' }, 137],
    [{ exitCode: null, signal: 'SIGTERM' }, 143],
    [{ exitCode: null, signal: 'SIGUSR1' }, 138],
    [{ state: 'failed', exitCode: null, signal: null, reason: 'EXECUTABLE_NOT_FOUND' }, EXIT.notFound],
    [{ state: 'failed', exitCode: null, signal: null, reason: 'EXECUTABLE_NOT_RUNNABLE' }, EXIT.notRunnable],
    [{ state: 'failed', exitCode: null, signal: null, reason: 'IMAGE_NOT_FOUND' }, EXIT.skiff],
  ])('%o → %i', (job, code) => expect(exitCodeOf(job)).toBe(code))
})

describe('signal numbers (no node:os in the CLI)', () => {
  it('match Node\'s table for every signal it knows', async () => {
    const { constants } = await import('node:os')
    const { signalNumber } = await import('../../../src/cli/exit.js')
    for (const [name, n] of Object.entries(constants.signals)) expect([name, signalNumber(name)]).toEqual([name, n])
    expect(signalNumber('SIGRTMIN+2')).toBe(36)
  })
})
