#!/usr/bin/env node
// Runs the compiled CLI when built (fast start), else the TypeScript sources through
// tsx. SKIFF_FROM_SOURCE=1 forces the sources (tests: a stale dist/ must not answer).
import { existsSync } from 'node:fs'

const dist = new URL('../dist/src/cli/main.js', import.meta.url)
const useDist = process.env.SKIFF_FROM_SOURCE !== '1' && existsSync(dist)
const { main } = useDist
  ? await import(dist.href)
  : await (async () => {
      const { register } = await import('tsx/esm/api')
      register()
      return import(new URL('../src/cli/main.ts', import.meta.url).href)
    })()
const { isSkiffError } = await import(useDist ? new URL('../dist/src/lib/errors.js', import.meta.url).href : new URL('../src/lib/errors.ts', import.meta.url).href)
try {
  process.exitCode = await main(process.argv.slice(2))
} catch (e) {
  process.stderr.write(`skiff: ${isSkiffError(e) ? e.message : (e?.stack ?? String(e))}\n`)
  process.exitCode = isSkiffError(e) && e.kind === 'invalid_argument' ? 2 : 1
}
