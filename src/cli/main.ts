import { isSkiffError, SkiffError } from '../lib/errors.js'
import { parseArgv, usageError } from './argv.js'
import type { Command } from './command.js'
import { COMMANDS, findCommand, type CommandEntry } from './commands/index.js'
import { EXIT, exitCodeOfError } from './exit.js'
import type { Client } from './client.js'
import { version } from './version.js'

/** A usage error carries the command whose --help answers it. */
class UsageError extends SkiffError {
  constructor(readonly path: string, e: SkiffError) {
    super(e.kind, e.code, e.message, e.extra)
  }
}

/** argv → command → exit code. Never throws: every failure is one line on
 *  stderr (SKIFF_DEBUG=1 adds the stack) and docker's exit code. */
export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', onStdoutError)
  try {
    return await dispatch(argv)
  } catch (e) {
    process.stderr.write(`skiff: ${describe(e)}\n`)
    if (e instanceof UsageError) process.stderr.write(`See 'skiff ${e.path} --help'.\n`)
    if (process.env.SKIFF_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`)
    return exitCodeOfError(e)
  }
}

function describe(e: unknown): string {
  if (isSkiffError(e)) return e.message
  const err = e as NodeJS.ErrnoException
  // a bug of ours, still one line: the stack is behind SKIFF_DEBUG=1
  return `internal error: ${err?.message ?? String(e)}${err?.code ? ` (${err.code})` : ''}`
}

// `skiff logs big | head -1`: the reader left; end quietly as a SIGPIPE'd program would.
function onStdoutError(e: NodeJS.ErrnoException): void {
  if (e.code === 'EPIPE') process.exit(EXIT.sigpipe)
  process.stderr.write(`skiff: writing output: ${e.message}\n`)
  process.exit(EXIT.skiff)
}

async function dispatch(argv: string[]): Promise<number> {
  let i = 0
  // global flags, before the command (docker's -H, -v, -h)
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!
    if (a === '-v' || a === '--version') {
      process.stdout.write(`skiff version ${version()}\n`)
      return 0
    }
    if (a === '-h' || a === '--help') {
      process.stdout.write((await import('./help.js')).mainHelp(COMMANDS) + '\n')
      return 0
    }
    if (a === '-H' || a === '--host') process.env.SKIFF_HOST = argv[++i] ?? ''
    else if (a.startsWith('--host=')) process.env.SKIFF_HOST = a.slice(7)
    else throw new UsageError('', usageError(`unknown flag: ${a}`, a))
  }
  const name = argv[i]
  if (name === undefined) {
    process.stderr.write((await import('./help.js')).mainHelp(COMMANDS) + '\n')
    return EXIT.skiff
  }
  if (name === 'help') return dispatch([...argv.slice(i + 1), '--help'])
  let entry = findCommand(COMMANDS, name)
  let path = name
  let rest = argv.slice(i + 1)
  if (entry?.sub) {
    const sub = rest[0] === undefined || rest[0].startsWith('-') ? undefined : findCommand(entry.sub, rest[0])
    if (!sub) {
      if (rest[0] === undefined || rest[0] === '--help' || rest[0] === '-h') {
        process.stdout.write((await import('./help.js')).groupHelp(entry) + '\n')
        return rest[0] === undefined ? EXIT.skiff : 0
      }
      throw new UsageError(name, usageError(`unknown command: skiff ${name} ${rest[0]}`))
    }
    path = `${name} ${sub.name}`
    entry = sub
    rest = rest.slice(1)
  }
  if (!entry?.load) {
    process.stderr.write(`skiff: unknown command: ${JSON.stringify(name)}\nRun 'skiff --help' for the list of commands.\n`)
    return EXIT.skiff
  }
  return runCommand(path, entry, (await entry.load()).default, rest)
}

async function runCommand(path: string, entry: CommandEntry, cmd: Command, argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgv(argv, { ...cmd.flags, help: { type: 'boolean' } }, { stopAtPositional: cmd.stopAtPositional })
    if (parsed.flags.help) {
      process.stdout.write((await import('./help.js')).commandHelp(path, entry.summary, cmd) + '\n')
      return 0
    }
    const n = parsed.positionals.length
    const { min, max } = cmd.args ?? {}
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      const want = min === max ? `exactly ${min}` : min !== undefined && n < min ? `at least ${min}` : `at most ${max}`
      throw usageError(`'skiff ${path}' requires ${want} argument${(min === max ? min : n < (min ?? 0) ? min : max) === 1 ? '' : 's'} (usage: skiff ${path} ${cmd.usage})`)
    }
  } catch (e) {
    throw isSkiffError(e) ? new UsageError(path, e) : e
  }
  let client: Client | undefined
  const { Client: ClientClass } = cmd.local ? { Client: undefined } : await import('./client.js')
  try {
    return await cmd.run({
      flags: parsed.flags,
      args: parsed.positionals,
      client: () => (client ??= new ClientClass!()),
    })
  } finally {
    client?.close()
  }
}

const invoked = process.argv[1] && /cli\/main\.[jt]s$/.test(process.argv[1])
if (invoked) main(process.argv.slice(2)).then((code) => (process.exitCode = code))
