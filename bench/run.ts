// npm run bench — every performance target of skiff, measured next to the same
// work done by docker/podman/crun in the same run, printed as ratios.
// Each part carries its own setup (registry, images, podman storage under a temp dir).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { BenchRow } from './types.js'

const parts: [string, string, string][] = [
  ['pull', './pull.js', 'benchPull'],
  ['runtime', './runtime.js', 'benchRuntime'],
  ['network', './network.js', 'benchNetwork'],
  ['per-connection', './per-connection.js', 'benchPerConnection'],
  ['api', './api.js', 'benchApi'],
  ['logs', './logs.js', 'benchLogs'],
  ['restart', './restart.js', 'benchRestart'],
  ['cli', './cli.js', 'benchCli'],
  ['cron', './cron.js', 'benchCron'],
  ['memory', './memory.js', 'benchMemory'],
]

/** Between parts: flush what the previous part wrote and let its background work
 *  (writeback, lazy unmounts, a peer's cleanup) finish, so no part pays for the
 *  one before it. Waits for CPU pressure (avg10) under 10%, at most 20 s (an idle VM here shows 5-15%). */
async function settle(): Promise<void> {
  spawnSync('sync')
  for (let i = 0; i < 20; i++) {
    const some = Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? 0)
    if (some < 10) return
    await new Promise((r) => setTimeout(r, 1000))
  }
}

const only = process.argv.slice(2)
const rows: BenchRow[] = []
let failed = 0
for (const [name, mod, fn] of parts) {
  if (only.length && !only.includes(name)) continue
  await settle()
  process.stderr.write(`\n== bench ${name}\n`)
  try {
    const m = (await import(mod)) as Record<string, () => Promise<BenchRow[]>>
    const r = await m[fn]!()
    rows.push(...r)
  } catch (e) {
    failed++
    process.stderr.write(`bench ${name} failed: ${(e as Error).stack ?? e}\n`)
  }
}

const w = Math.max(...rows.map((r) => r.name.length), 10)
console.log(`\n${'benchmark'.padEnd(w)}  ${'skiff'.padStart(10)}  ${'peer'.padEnd(28)} ${'peer'.padStart(10)}  ratio`)
for (const r of rows) {
  console.log(
    `${r.name.padEnd(w)}  ${r.skiff_ms.toFixed(2).padStart(8)}${(r.unit ?? 'ms').padEnd(3)} ${r.peer.padEnd(30)} ${r.peer_ms === null ? '        n/a' : `${r.peer_ms.toFixed(2).padStart(8)}${(r.unit ?? 'ms').padEnd(3)}`}  ${r.ratio === null ? 'n/a' : `${r.ratio.toFixed(3)}x`}${r.note ? `  (${r.note})` : ''}`,
  )
}
console.log('\n' + JSON.stringify(rows))
process.exitCode = failed ? 1 : 0
