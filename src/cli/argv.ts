import { SkiffError } from '../lib/errors.js'

export interface FlagSpec {
  /** long name → short alias (optional) */
  short?: string
  type: 'boolean' | 'string' | 'multi'
}

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** docker-style parsing: flags come before the first positional; everything
 *  from the first positional on (e.g. IMAGE CMD…) is kept verbatim, so a
 *  command's own flags (`sh -c …`) are never taken as skiff's. */
export function parseArgv(argv: readonly string[], spec: Record<string, FlagSpec>, opts: { stopAtPositional?: boolean } = {}): Parsed {
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([l, s]) => [s.short!, l]))
  const flags: Parsed['flags'] = {}
  const positionals: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (!a.startsWith('-') || a === '-') {
      if (opts.stopAtPositional) {
        positionals.push(...argv.slice(i))
        break
      }
      positionals.push(a)
      continue
    }
    let name: string
    let inline: string | undefined
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      inline = eq > 0 ? a.slice(eq + 1) : undefined
    } else {
      const long = byShort.get(a.slice(1, 2))
      if (!long) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `unknown flag ${a}`, { field: a })
      name = long
      inline = a.length > 2 ? a.slice(2).replace(/^=/, '') : undefined
    }
    const s = spec[name]
    if (!s) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `unknown flag --${name}`, { field: name })
    if (s.type === 'boolean') {
      flags[name] = inline === undefined ? true : inline !== 'false'
      continue
    }
    const v = inline ?? argv[++i]
    if (v === undefined) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `flag --${name} needs a value`, { field: name })
    if (s.type === 'multi') ((flags[name] ??= []) as string[]).push(v)
    else flags[name] = v
  }
  return { flags, positionals }
}

export function keyValues(list: string[] | undefined, field: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of list ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0) {
      // docker's `-e NAME` passes the caller's own value through
      if (i < 0 && process.env[kv] !== undefined) {
        out[kv] = process.env[kv]!
        continue
      }
      throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `--${field}: expected KEY=VALUE, got ${JSON.stringify(kv)}`, { field })
    }
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}
