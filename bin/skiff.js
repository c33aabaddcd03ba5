#!/usr/bin/env node
// Runs the bundled CLI when built (dist/cli/main.js: one file to load, the fast
// start), else the TypeScript sources through tsx. SKIFF_FROM_SOURCE=1 forces the
// sources (tests: a stale dist/ must not answer).
import { existsSync } from 'node:fs'

const dist = new URL('../dist/cli/main.js', import.meta.url)
const { main } = process.env.SKIFF_FROM_SOURCE !== '1' && existsSync(dist)
  ? await import(dist.href)
  : await (async () => {
      const { register } = await import('tsx/esm/api')
      register()
      return import(new URL('../src/cli/main.ts', import.meta.url).href)
    })()
process.exitCode = await main(process.argv.slice(2))
