import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../../..')

function walk(dir: string, ext: RegExp): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p, ext) : ext.test(n) ? [p] : []
  })
}

describe('error codes', () => {
  it('every code thrown in src/ is documented in docs/errors*.md', () => {
    const codes = new Set<string>()
    for (const f of walk(join(ROOT, 'src'), /\.ts$/)) {
      const text = readFileSync(f, 'utf8')
      for (const m of text.matchAll(/SkiffError\(\s*'[a-z_]+',\s*'([A-Z0-9_]+)'/g)) codes.add(m[1]!)
    }
    const docs = [join(ROOT, 'docs/errors.md'), ...walk(join(ROOT, 'docs/errors'), /\.md$/)].map((f) => readFileSync(f, 'utf8')).join('\n')
    const missing = [...codes].filter((c) => !docs.includes('`' + c + '`'))
    expect(codes.size).toBeGreaterThan(10)
    expect(missing, `undocumented error codes: ${missing.join(', ')}`).toEqual([])
  })
})
