// Bundles the CLI into dist/cli/ with esbuild:
//   skiff.cjs  the client commands in ONE CommonJS file: a short command loads one
//              file and no npm package (CommonJS, as Node's ESM loader costs a few
//              ms more per start: facades for every builtin, async file reads);
//   esm/       the commands that run locally (daemon, doctor) and everything they
//              pull in, as ES modules loaded only by those commands.
// npm packages stay external (resolved from node_modules at run time).
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist/cli')
const LOCAL = ['daemon', 'doctor'] // commands/<name>.ts, loaded from esm/<name>.mjs
rmSync(out, { recursive: true, force: true })
const common = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', packages: 'external', legalComments: 'none', logLevel: 'warning' }

await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: join(out, 'skiff.cjs'),
  format: 'cjs',
  // import.meta.url has no CommonJS form: the file's own URL
  banner: { js: 'const __skiffModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__skiffModuleUrl' },
  plugins: [{
    name: 'local-commands-apart',
    setup(b) {
      const re = new RegExp(`^\\./(${LOCAL.join('|')})\\.js$`)
      b.onResolve({ filter: re }, (a) => (a.importer.endsWith(join('src/cli/commands/index.ts')) ? { path: `./esm/${re.exec(a.path)[1]}.mjs`, external: true } : undefined))
    },
  }],
})

await build({
  ...common,
  entryPoints: Object.fromEntries(LOCAL.map((n) => [n, `src/cli/commands/${n}.ts`])),
  outdir: join(out, 'esm'),
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
})
