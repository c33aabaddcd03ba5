/** Static scan for the external programs a source tree spawns, for the meta test
 *  that ties them to scripts/setup-host (test/unit/meta/spawned-programs.test.ts).
 *  Pure text functions: no child process, no module loading. */

export interface Site {
  file: string
  line: number
  /** the program, or undefined when the argv[0] is computed (see `expr`) */
  program?: string
  /** the argv[0] expression when it is not a literal */
  expr?: string
}

const CHILD_ARGV0 = ['spawn', 'spawnSync', 'execFile', 'execFileSync']
const CHILD_SHELL = ['exec', 'execSync']
/** the project's own wrappers: module path suffix → exported name → how its first argument names the program */
const WRAPPERS: [RegExp, string, 'argv' | 'file'][] = [
  [/lib\/exec\.js$/, 'exec', 'argv'],
  [/lib\/exec-stream\.js$/, 'execFilter', 'argv'],
  [/lib\/spawn-detached\.js$/, 'spawnDetached', 'file'],
]

type Kind = 'file' | 'argv' | 'shell'

/** Which local names spawn, and how their first argument names the program. */
function spawners(text: string): Map<string, Kind> {
  const out = new Map<string, Kind>()
  const imports = [
    ...text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g),
    ...text.matchAll(/const\s*\{([^}]*)\}\s*=\s*await\s+import\('([^']+)'\)/g),
  ]
  for (const [, names, from] of imports) {
    for (const part of names!.split(',')) {
      const m = /^\s*(?:type\s+)?(\w+)(?:\s+(?:as|:)\s+(\w+))?\s*$/.exec(part)
      if (!m || part.trim().startsWith('type ')) continue
      const [, orig, local = orig] = m as unknown as [string, string, string | undefined]
      if (/^(node:)?child_process$/.test(from!)) {
        if (CHILD_ARGV0.includes(orig)) out.set(local!, 'file')
        else if (CHILD_SHELL.includes(orig)) out.set(local!, 'shell')
      }
      for (const [mod, name, kind] of WRAPPERS) if (mod.test(from!) && orig === name) out.set(local!, kind)
    }
  }
  return out
}

/** A JS string or template literal at `i` (quote char there): its text, `${…}` as `\u0000`. */
function readLiteral(s: string, i: number): { text: string; end: number } {
  const q = s[i]!
  let text = ''
  let j = i + 1
  while (j < s.length && s[j] !== q) {
    if (s[j] === '\\') {
      const n = s[j + 1]
      text += n === 'n' ? '\n' : n === 't' ? '\t' : n
      j += 2
      continue
    }
    if (q === '`' && s[j] === '$' && s[j + 1] === '{') {
      let depth = 1
      j += 2
      while (j < s.length && depth) {
        if (s[j] === '{') depth++
        else if (s[j] === '}') depth--
        j++
      }
      text += '\u0000'
      continue
    }
    text += s[j]
    j++
  }
  return { text, end: j + 1 }
}

/** The expression text from `i` to the next top-level `,` or closing bracket. */
function readExpr(s: string, i: number): { text: string; end: number } {
  let depth = 0
  let j = i
  for (; j < s.length; j++) {
    const ch = s[j]!
    if (ch === "'" || ch === '"' || ch === '`') {
      j = readLiteral(s, j).end - 1
      continue
    }
    if ('([{'.includes(ch)) depth++
    else if (')]}'.includes(ch)) {
      if (!depth) break
      depth--
    } else if (ch === ',' && !depth) break
  }
  return { text: s.slice(i, j).trim(), end: j }
}

const skipWs = (s: string, i: number) => {
  while (i < s.length && /\s/.test(s[i]!)) i++
  return i
}
const isQuote = (ch: string | undefined) => ch === "'" || ch === '"' || ch === '`'

/** Elements of an array literal at `i` (`[`): literals as text, the rest as `{ expr }`. */
function readArray(s: string, i: number): (string | { expr: string })[] {
  const out: (string | { expr: string })[] = []
  let j = i + 1
  for (;;) {
    j = skipWs(s, j)
    if (s[j] === ']' || j >= s.length) return out
    if (isQuote(s[j])) {
      const lit = readLiteral(s, j)
      j = skipWs(s, lit.end)
      if (s[j] === ',' || s[j] === ']') {
        out.push(lit.text)
        if (s[j] === ',') j++
        continue
      }
    }
    const e = readExpr(s, j)
    out.push({ expr: e.text })
    j = s[e.end] === ',' ? e.end + 1 : e.end
  }
}

const SHELLS = new Set(['sh', 'bash', '/bin/sh', '/bin/bash'])

/** Every spawn site of a JS/TS file, shell `-c` scripts included (their commands
 *  come back as sites of their own). */
export function scanSource(file: string, text: string): Site[] {
  const sites: Site[] = []
  const lineOf = (i: number) => text.slice(0, i).split('\n').length
  const names = spawners(text)
  // `const sh = (s: string) => exec(['bash', '-euo', 'pipefail', '-c', s])`: calls of sh(…) are scripts
  const scriptFns = new Map<string, string>()
  for (const m of text.matchAll(/const\s+(\w+)\s*=\s*\((\w+)(?::\s*string)?\)\s*=>\s*(\w+)\(\s*\[\s*'(?:\/bin\/)?(?:ba)?sh'[^\]]*'-c',\s*(\w+)\s*\]/g)) {
    if (m[2] === m[4] && names.get(m[3]!) === 'argv') scriptFns.set(m[1]!, m[2]!)
  }
  const addScript = (script: string, at: number) => {
    for (const cmd of shellCommands(script)) sites.push({ file, line: lineOf(at), ...(cmd.includes('\u0000') ? { expr: cmd.replaceAll('\u0000', '${…}') } : { program: cmd }) })
  }
  for (const [name, kind] of names) {
    for (const m of text.matchAll(new RegExp(`(?<![.\\w$])${name}\\(`, 'g'))) {
      const at = m.index! + m[0].length
      const i = skipWs(text, at)
      // a method of the same name being defined (`async exec(id: string, …) {`), not a call
      if (/^\w+\??\s*:/.test(text.slice(i, i + 80)) || /(async|function)\s+$/.test(text.slice(Math.max(0, m.index! - 10), m.index!))) continue
      if (kind === 'shell') {
        if (isQuote(text[i])) addScript(readLiteral(text, i).text, i)
        else sites.push({ file, line: lineOf(i), expr: `shell: ${readExpr(text, i).text}` })
        continue
      }
      if (kind === 'argv' && text[i] === '[') {
        const els = readArray(text, i)
        const first = els[0]
        if (typeof first !== 'string') {
          sites.push({ file, line: lineOf(i), expr: `[${first?.expr ?? ''}` })
          continue
        }
        sites.push({ file, line: lineOf(i), program: first })
        const c = els.indexOf('-c')
        if (SHELLS.has(first) && c > 0) {
          const script = els[c + 1]
          if (typeof script === 'string') addScript(script, i)
          else if (script && ![...scriptFns.values()].includes(script.expr)) sites.push({ file, line: lineOf(i), expr: `${first} -c ${script.expr}` })
        }
        continue
      }
      const arg = isQuote(text[i]) ? readLiteral(text, i) : undefined
      if (arg && !arg.text.includes('\u0000')) {
        sites.push({ file, line: lineOf(i), program: arg.text })
        // spawn('sh', ['-c', '…'])
        const rest = skipWs(text, arg.end)
        if (SHELLS.has(arg.text) && text[rest] === ',' && text[skipWs(text, rest + 1)] === '[') {
          const els = readArray(text, skipWs(text, rest + 1))
          const c = els.indexOf('-c')
          const script = els[c + 1]
          if (c >= 0 && typeof script === 'string') addScript(script, i)
          else if (c >= 0 && script && typeof script !== 'string') sites.push({ file, line: lineOf(i), expr: `${arg.text} -c ${script.expr}` })
        }
      } else sites.push({ file, line: lineOf(i), expr: arg ? arg.text : readExpr(text, i).text })
    }
  }
  for (const [fn] of scriptFns) {
    for (const m of text.matchAll(new RegExp(`(?<![.\\w$])${fn}\\(\\s*`, 'g'))) {
      const i = m.index! + m[0].length
      if (isQuote(text[i])) addScript(readLiteral(text, i).text, i)
    }
  }
  return sites
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'do', 'done', 'while', 'until', 'case', 'esac', 'in', 'function', '!', '{', '}', 'time'])
/** bash builtins (and `[`): they run no program */
export const BUILTINS = new Set([
  ':', '.', '[', 'alias', 'bg', 'break', 'builtin', 'cd', 'command', 'continue', 'declare', 'echo', 'eval', 'exec', 'exit', 'export', 'false',
  'fg', 'getopts', 'hash', 'jobs', 'kill', 'let', 'local', 'mapfile', 'popd', 'printf', 'pushd', 'pwd', 'read', 'readarray', 'readonly',
  'return', 'set', 'shift', 'shopt', 'source', 'test', 'trap', 'true', 'type', 'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
])
/** programs that run the next word as a program */
const PREFIXES = new Set(['setsid', 'env', 'nice', 'nohup', 'timeout', 'xargs', 'sudo', 'stdbuf'])

/** The command words of a shell script: first word of each simple command, in
 *  `$(…)`, `<(…)` and backticks too; builtins, keywords, assignments and the
 *  script's own functions left out. A computed command word (`"$bb"`, a JS
 *  template's `${…}` as \u0000) comes back with its `$`/\u0000 for the caller to
 *  judge. Single-quoted text runs nothing. */
export function shellCommands(script: string): string[] {
  const out: string[] = []
  const functions = new Set([...script.matchAll(/^\s*(?:function\s+)?([\w-]+)\s*\(\)\s*\{/gm)].map((m) => m[1]!))
  interface Frame { kind: 'cmd' | 'dq' | 'bt'; word: string; quoted: boolean; atStart: boolean; inTest: boolean; skipUntilDo: boolean; prefix: boolean }
  const frame = (kind: Frame['kind']): Frame => ({ kind, word: '', quoted: false, atStart: true, inTest: false, skipUntilDo: false, prefix: false })
  const stack: Frame[] = [frame('cmd')]
  // the command frame whose word the current character belongs to
  const cmdFrame = () => {
    for (let k = stack.length - 1; k >= 0; k--) if (stack[k]!.kind !== 'dq') return stack[k]!
    return stack[0]!
  }
  const endWord = (f: Frame) => {
    const w = f.word
    const quoted = f.quoted
    f.word = ''
    f.quoted = false
    if (!w && !quoted) return
    if (f.inTest) {
      if (w === ']]') f.inTest = false
      return
    }
    if (f.skipUntilDo) {
      if (w === 'do' || w === 'in') {
        if (w === 'do') f.skipUntilDo = false
        f.atStart = w === 'do'
      }
      return
    }
    if (!f.atStart) return
    if (/^[A-Za-z_]\w*(\[[^\]]*\])?\+?=/.test(w)) return // assignment: still at command start
    if (/^\d*[<>]/.test(w)) return // redirection
    if (!quoted && KEYWORDS.has(w)) {
      if (w === 'for' || w === 'case') f.skipUntilDo = true
      return
    }
    if (w === '[[') {
      f.inTest = true
      f.atStart = false
      return
    }
    f.atStart = false
    if (PREFIXES.has(w)) {
      out.push(w)
      f.prefix = true
      f.atStart = true
      return
    }
    if (f.prefix && w.startsWith('-')) {
      f.atStart = true // setsid -f CMD
      return
    }
    f.prefix = false
    if (!w.includes('$') && !w.includes('\u0000') && (BUILTINS.has(w) || functions.has(w))) return
    out.push(w)
  }
  const separator = (f: Frame) => {
    endWord(f)
    if (!f.inTest) f.atStart = true
    f.prefix = false
  }
  const open = (computedWord: boolean) => {
    if (computedWord) cmdFrame().word += '$' // the enclosing word is computed
    stack.push(frame('cmd'))
  }
  // skip from i (at an opening bracket) to its match: NAME=( … ) arrays, (( … )) arithmetic
  const skipBalanced = (i: number): number => {
    let depth = 0
    for (let j = i; j < script.length; j++) {
      if (script[j] === '(') depth++
      else if (script[j] === ')' && --depth === 0) return j
    }
    return script.length
  }
  for (let i = 0; i < script.length; i++) {
    const ch = script[i]!
    const top = stack[stack.length - 1]!
    if (top.kind === 'dq') {
      const f = cmdFrame()
      if (ch === '\\') i++
      else if (ch === '"') stack.pop()
      else if (ch === '$' && script[i + 1] === '(') {
        open(true)
        i++
      } else if (ch === '`') {
        cmdFrame().word += '$'
        stack.push(frame('bt'))
      } else if (ch === '$') f.word += '$'
      else f.word += ch
      continue
    }
    const f = top
    if (ch === '\\') {
      if (script[i + 1] === '\n') separator(f) // line continuation: the command goes on
      else f.word += script[i + 1] ?? ''
      if (script[i + 1] === '\n') f.atStart = false
      i++
      continue
    }
    if (ch === "'") {
      const j = script.indexOf("'", i + 1)
      f.word += script.slice(i + 1, j < 0 ? script.length : j)
      f.quoted = true
      i = j < 0 ? script.length : j
      continue
    }
    if (ch === '"') {
      f.quoted = true
      stack.push(frame('dq'))
      continue
    }
    if (ch === '#' && !f.word && !f.quoted) {
      const j = script.indexOf('\n', i)
      i = j < 0 ? script.length : j - 1
      continue
    }
    if ((ch === '$' || ch === '<' || ch === '>') && script[i + 1] === '(') {
      if (ch === '$' && script[i + 2] === '(') {
        f.word += '$' // $(( arithmetic ))
        i = skipBalanced(i + 1)
        continue
      }
      if (ch !== '$') endWord(f)
      open(ch === '$')
      i++
      continue
    }
    // NAME=( … ) / NAME+=( … ): an array, not a subshell; (( … )): arithmetic
    if (ch === '(' && (/^[A-Za-z_]\w*\+?=$/.test(f.word) || (!f.word && script[i + 1] === '('))) {
      f.word = ''
      i = skipBalanced(i)
      continue
    }
    // redirections: >&2, 2>&1, &>file — the & is not a separator
    if (ch === '&' && (/[<>]$/.test(f.word) || script[i + 1] === '>')) {
      f.word += ch
      continue
    }
    // { and } are words of their own (a group) only when alone: "$r"/{a,b} is brace expansion
    if ((ch === '{' && (f.word || f.quoted || !/\s/.test(script[i + 1] ?? ' '))) || (ch === '}' && (f.word || f.quoted))) {
      f.word += ch
      continue
    }
    if (ch === '`') {
      if (f.kind === 'bt') {
        endWord(f)
        stack.pop()
      } else {
        f.word += '$'
        stack.push(frame('bt'))
      }
      continue
    }
    if (ch === ')' && stack.length > 1 && f.kind === 'cmd') {
      endWord(f)
      stack.pop()
      continue
    }
    if (ch === '$' && script[i + 1] === '{') {
      const j = script.indexOf('}', i)
      f.word += '$'
      i = j < 0 ? script.length : j
      continue
    }
    if (ch === '\n' || ';&|(){}'.includes(ch)) {
      separator(f)
      continue
    }
    if (/\s/.test(ch)) {
      endWord(f)
      continue
    }
    f.word += ch
  }
  for (const f of stack.reverse()) if (f.kind !== 'dq') endWord(f)
  return out
}

/** The package list of scripts/setup-host: the PKGS=( … ) array, not the `PKGS+=` peers. */
export function setupHostPackages(text: string): string[] {
  const m = /^PKGS=\(([^)]*)\)/m.exec(text)
  if (!m) throw new Error('no PKGS=( … ) in setup-host')
  return m[1]!.split(/\s+/).filter((w) => w && !w.startsWith('#'))
}
