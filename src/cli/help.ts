import type { Command, FlagDef } from './command.js'
import { GROUPS, type CommandEntry } from './commands/index.js'

const ENVIRONMENT = `Environment:
  SKIFF_HOST      daemon address: unix:///path/to.sock, tcp://host:port, http://host:port, host:port
  SKIFF_SOCKET    unix socket when SKIFF_HOST is unset (default /run/skiff/skiff.sock)
  SKIFF_TOKEN     API token for TCP (default: read from $SKIFF_DATA_DIR/token)
  SKIFF_DATA_DIR  the daemon's data dir (default /var/lib/skiff)`

const pad = (rows: [string, string][], indent = '  '): string => {
  const w = Math.min(Math.max(...rows.map(([a]) => a.length)) + 2, 34)
  return rows.map(([a, b]) => (a.length + 2 > w ? `${indent}${a}\n${indent}${' '.repeat(w)}${b}` : `${indent}${a.padEnd(w)}${b}`)).join('\n')
}

/** `skiff --help`: commands by group, from the table alone (no module loaded). */
export function mainHelp(table: readonly CommandEntry[]): string {
  const groups = [...GROUPS, ...new Set(table.map((c) => c.group).filter((g): g is string => !!g && !(GROUPS as readonly string[]).includes(g)))]
  const parts = groups.map((g) => `${g}:\n${pad(table.filter((c) => c.group === g).map((c) => [c.name, c.summary]))}`)
  return `skiff — run jobs in containers

Usage: skiff [-H HOST] COMMAND [flags]
       skiff COMMAND --help      flags of one command
       skiff --version

${parts.join('\n\n')}

Global flags:
${pad([['-H, --host HOST', 'daemon address (overrides SKIFF_HOST)'], ['-h, --help', 'this help'], ['-v, --version', 'print the version']])}

${ENVIRONMENT}`
}

/** `skiff image --help` */
export function groupHelp(entry: CommandEntry): string {
  return `Usage: skiff ${entry.name} COMMAND [flags]

${entry.summary}

Commands:
${pad((entry.sub ?? []).map((c) => [c.name, c.summary]))}

Run 'skiff ${entry.name} COMMAND --help' for a command's flags.`
}

export function flagLabel(name: string, f: FlagDef): string {
  const value = f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'multi' ? 'VALUE' : 'VALUE')}`
  return `${f.short ? `-${f.short}, ` : '    '}--${name}${value}`
}

/** `skiff run --help`: usage, summary, and every flag the command accepts. */
export function commandHelp(path: string, summary: string, c: Command): string {
  const flags = Object.entries(c.flags).filter(([, f]) => !f.hidden)
  const rows: [string, string][] = flags.map(([n, f]) => [flagLabel(n, f), f.help + (f.type === 'multi' ? ' (repeatable)' : '')])
  rows.push(['    --help', 'print this help'])
  return `Usage: skiff ${path} ${c.usage}

${summary}${c.description ? `\n\n${c.description}` : ''}

Flags:
${pad(rows)}`
}
