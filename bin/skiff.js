#!/usr/bin/env node
// CommonJS (bin/package.json): a CommonJS start skips Node's ESM loader, a few ms
// of every short command. Runs the bundle (dist/cli/skiff.cjs, `npm run build`,
// which scripts/setup runs) when present, else the TypeScript sources through
// tsx. SKIFF_FROM_SOURCE=1 forces the sources (tests: a stale dist/ must not answer).
'use strict'
const { existsSync } = require('node:fs')
const { join } = require('node:path')

const bundle = join(__dirname, '../dist/cli/skiff.cjs')
const argv = process.argv.slice(2)
const run = (main) => main(argv).then((code) => (process.exitCode = code))
if (process.env.SKIFF_FROM_SOURCE !== '1' && existsSync(bundle)) run(require(bundle).main)
else {
  import('tsx/esm/api')
    .then(({ register }) => {
      register()
      return import('../src/cli/main.ts')
    })
    .then(({ main }) => run(main))
}
