import { SkiffError } from '../lib/errors.js'

export interface FlagSpec {
  /** one-letter alias (`-d` for `--detach`) */
  short?: string
  type: 'boolean' | 'string' | 'multi'
}

export type Flags = Record<string, string | boolean | string[] | undefined>

export interface Parsed {
  flags: Flags
  positionals: string[]
}

export const usageError = (message: string, field?: string) => new SkiffError('invalid_argument', 'INVALID_ARGUMENT', message, field ? { field } : {})

/** docker-style (pflag) parsing.
 *  - With `stopAtPositional`, flags come before the first positional and everything
 *    from it on (IMAGE CMD…) is kept verbatim, so `sh -c …` keeps its own flags.
 *  - Short flags combine: `-aq`, `-dit`; the first one that takes a value takes the
 *    rest of the word (`-m256m`, `-de A=1` → `-d -e A=1`) or else the next word.
 *  - `--name=value` and `--name value`; `--` ends the flags. */
export function parseArgv(argv: readonly string[], spec: Record<string, FlagSpec>, opts: { stopAtPositional?: boolean } = {}): Parsed {
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([l, s]) => [s.short!, l]))
  const flags: Flags = {}
  const positionals: string[] = []
  const set = (name: string, s: FlagSpec, value: string) => {
    if (s.type === 'multi') ((flags[name] ??= []) as string[]).push(value)
    else flags[name] = value
  }
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
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
      const inline = eq > 0 ? a.slice(eq + 1) : undefined
      const s = spec[name]
      if (!s) throw usageError(`unknown flag: --${name}`, name)
      if (s.type === 'boolean') {
        flags[name] = inline === undefined ? true : inline !== 'false'
        continue
      }
      const v = inline ?? argv[++i]
      if (v === undefined) throw usageError(`flag needs an argument: --${name}`, name)
      set(name, s, v)
      continue
    }
    // one or more short flags in one word
    for (let j = 1; j < a.length; j++) {
      const ch = a[j]!
      const name = byShort.get(ch)
      if (!name) throw usageError(`unknown shorthand flag: '${ch}' in ${a}`, `-${ch}`)
      const s = spec[name]!
      if (s.type === 'boolean') {
        flags[name] = true
        continue
      }
      let v: string | undefined = a.slice(j + 1).replace(/^=/, '')
      if (v === '') v = argv[++i]
      if (v === undefined) throw usageError(`flag needs an argument: '${ch}' in -${ch}`, `-${ch}`)
      set(name, s, v)
      break
    }
  }
  return { flags, positionals }
}

/** `-e A=1` pairs into an object; a bare `NAME` passes the caller's own value
 *  through, as docker's `-e NAME` does (and is dropped when unset). */
export function keyValues(list: readonly string[] | undefined, flag: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of list ?? []) {
    const i = kv.indexOf('=')
    if (i === 0 || kv === '') throw usageError(`${flag}: expected KEY=VALUE, got ${JSON.stringify(kv)}`, flag)
    if (i < 0) {
      if (env[kv] !== undefined) out[kv] = env[kv]!
      continue
    }
    out[kv.slice(0, i)] = kv.slice(i + 1)
  }
  return out
}

/** docker's --env-file format: one KEY=VALUE or KEY (taken from our environment)
 *  per line, `#` starts a comment line, blank lines are skipped, nothing is unquoted. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = []
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.trimStart()
    if (!line || line.startsWith('#')) return
    const key = line.split('=', 1)[0]!
    if (!key || /\s/.test(key)) throw usageError(`--env-file ${file}:${n + 1}: variable name ${JSON.stringify(key)} is empty or contains whitespace`, '--env-file')
    out.push(line.includes('=') ? line : line.trimEnd())
  })
  return out
}
