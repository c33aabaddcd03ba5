import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { describe, expect, it } from 'vitest'

// The dependency arrows of ../shared/DESIGN.md, enforced:
//   cli ─(HTTP only)─▶ http ─▶ scheduler ─▶ runtime/images/logs ─▶ lib
// runtime never imports images (not even its types: it gets plain data), logs or db; nothing imports
// http or daemon.ts but the composition root and the CLI's `daemon` command;
// another layer is entered only through its index.ts (or types.ts).
const SRC = join(import.meta.dirname, '../../../src')
const LAYERS = ['http', 'scheduler', 'runtime', 'images', 'logs', 'cli', 'db', 'lib'] as const
type Layer = (typeof LAYERS)[number] | 'root'

const FORBIDDEN: Record<Layer, Layer[]> = {
  lib: ['http', 'scheduler', 'runtime', 'images', 'logs', 'cli', 'db', 'root'],
  db: ['http', 'scheduler', 'runtime', 'images', 'logs', 'cli'],
  runtime: ['http', 'scheduler', 'images', 'logs', 'db', 'cli'],
  images: ['http', 'scheduler', 'runtime', 'logs', 'cli'],
  logs: ['http', 'scheduler', 'runtime', 'images', 'db', 'cli'],
  scheduler: ['http', 'cli'],
  http: ['cli'],
  cli: ['http', 'scheduler', 'runtime', 'images', 'logs', 'db'],
  root: [],
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}
const layerOf = (file: string): Layer => {
  const first = relative(SRC, file).split('/')[0]!
  return (LAYERS as readonly string[]).includes(first) ? (first as Layer) : 'root'
}

describe('layer boundaries', () => {
  const files = walk(SRC)
  it('no layer imports one it must not, and other layers are entered through index.ts', () => {
    const bad: string[] = []
    for (const f of files) {
      const from = layerOf(f)
      const text = readFileSync(f, 'utf8')
      for (const m of text.matchAll(/(?:import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
        const spec = m[2] ?? m[3]!
        const target = resolve(dirname(f), spec)
        const to = layerOf(target + '.ts')
        const rel = relative(SRC, f)
        if (to === from) continue
        // the CLI's `daemon` command starts the daemon in-process
        if (from === 'cli' && relative(SRC, target) === 'daemon.js') continue
        if (from === 'cli' && to === 'runtime' && /index\.js$/.test(spec)) continue // `skiff doctor` runs the host checks locally
        if (FORBIDDEN[from].includes(to)) bad.push(`${rel}: ${from} → ${to} (${spec})`)
        const entered = relative(join(SRC, to), target)
        if (to !== 'root' && to !== 'lib' && to !== 'db' && !/^(index|types)\.js$/.test(entered) && !(from === 'root' && to === 'http'))
          bad.push(`${rel}: enters ${to} through ${entered}, not index.ts`)
      }
    }
    expect(files.length).toBeGreaterThan(10)
    expect(bad).toEqual([])
  })
})
