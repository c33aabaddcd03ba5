// Bundles the CLI into dist/cli/ with esbuild:
//   skiff.cjs  the client commands in ONE CommonJS file: a short command loads one
//              file and no npm package (CommonJS, as Node's ESM loader costs a few
//              ms more per start: facades for every builtin, async file reads);
//   esm/       the commands that run locally (daemon, doctor) and everything they
//              pull in, npm packages included, minified, as ES modules loaded only
//              by those commands. A long-running daemon keeps every module's source
//              and the loader's records of every file for its whole life: inlined
//              and minified, the daemon starts ≈4 MiB smaller (80.6 → 76.9 MiB RSS
//              here); chunks that load late (undici, at the first pull) stay apart.
// The client's npm packages stay external (resolved from node_modules at run time),
// and so do the packages with native parts or files found next to them (NATIVE).
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'dist/cli')
const LOCAL = ['daemon', 'doctor'] // commands/<name>.ts, loaded from esm/<name>.mjs
rmSync(out, { recursive: true, force: true })
const NATIVE = ['better-sqlite3', '@napi-rs/xattr', 'swagger-ui-dist', 'bufferutil', 'utf-8-validate']
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
  packages: undefined,
  external: NATIVE,
  minify: true,
  keepNames: true,
  // read only under NODE_OPTIONS=--enable-source-maps: stack traces with the sources' lines
  sourcemap: 'linked',
  banner: { js: 'import { createRequire as __skiffCreateRequire } from "node:module"; const require = __skiffCreateRequire(import.meta.url);' },
  entryPoints: Object.fromEntries(LOCAL.map((n) => [n, `src/cli/commands/${n}.ts`])),
  outdir: join(out, 'esm'),
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
})
