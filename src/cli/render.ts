/** Output helpers: human tables by default, JSON with --json. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')).join('\n')
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return ''
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

export function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n')
}

/** An argv as a shell would read it back: words with spaces or quotes in single quotes. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** ps's COMMAND as docker writes it: the command cut to 20 characters with …,
 *  inside its quotes (strconv.Quote of Ellipsis(command, 20)): "sh -c 'echo hello…". */
export function commandColumn(argv: readonly string[], trunc = true, width = 20): string {
  const chars = [...shellJoin(argv)]
  const s = trunc && chars.length > width ? chars.slice(0, width - 1).join('') + '…' : chars.join('')
  return JSON.stringify(s)
}
