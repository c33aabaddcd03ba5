import { join } from 'node:path'
import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '[--json] [--data-dir DIR] [--store]',
  local: true,
  flags: {
    json: { type: 'boolean', help: 'print the findings as JSON' },
    'data-dir': { type: 'string', value: 'DIR', help: 'also check this data dir\'s file modes (SKIFF_DATA_DIR, default /var/lib/skiff)' },
    store: { type: 'boolean', help: 'only the consistency of the data dir with its database, as after a crash: orphaned mounts, cgroups, monitors, container dirs, half-written blobs and snapshots, jobs running with no monitor, integrity_check' },
  },
  args: { max: 0 },
  async run({ flags: f }) {
    const { diskFindings, networkFindings, runDoctor } = await import('../../runtime/index.js')
    const { dataDirFindings } = await import('../../data-dir.js')
    const dir = (f['data-dir'] as string | undefined) ?? process.env.SKIFF_DATA_DIR ?? '/var/lib/skiff'
    const { storeFindings } = await import('../../store-check.js')
    const findings = f.store ? storeFindings(dir) : [...(await runDoctor()), ...dataDirFindings(dir), ...diskFindings(join(dir, 'runtime', 'layers')), ...(await networkFindings(join(dir, 'runtime')))]
    if (f.json) process.stdout.write(JSON.stringify(findings, null, 2) + '\n')
    else {
      for (const x of findings) {
        process.stdout.write(`${x.ok ? 'ok  ' : 'FAIL'}  ${x.check}: ${x.message}\n`)
        if (!x.ok && x.fix) process.stdout.write(`      fix: ${x.fix}\n`)
      }
    }
    return findings.every((x) => x.ok || x.severity === 'warn') ? 0 : 1
  },
})
