import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../../../src/lib/paths.js'
import { importBusybox, removeDataDir, startDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { startRegistry, type TestRegistry } from '../../helpers/registry.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { waitFor } from '../../helpers/wait.js'
import { seed } from '../../fixtures/images.js'

// The daemon as users run it: bin/skiff.js on the bundle `npm run build` makes
// (scripts/setup runs it), with its npm packages inlined and minified
// (scripts/build-cli.mjs). Every other test runs the sources: this one catches what
// only bundling breaks (a package's dynamic require, a file found next to its
// module, a chunk loaded late such as the registry client's undici).
let d: TestDaemon
let reg: TestRegistry

beforeAll(async () => {
  execFileSync(process.execPath, [join(PACKAGE_ROOT, 'scripts/build-cli.mjs')], { stdio: 'inherit' })
  reg = await startRegistry()
  await seed(reg)
  d = await startDaemon({ bundle: true })
  await importBusybox(d)
}, 180_000)

afterAll(async () => {
  await d?.stop()
  if (d) removeDataDir(d.dataDir)
  await reg?.stop()
})

describe('the bundled daemon and CLI', () => {
  it('is the bundle, under the daemon flags', () => {
    const cmdline = readFileSync(`/proc/${d.child.pid}/cmdline`, 'utf8').split('\0')
    expect(cmdline).toContain(join(PACKAGE_ROOT, 'bin/skiff.js'))
    expect(cmdline).toContain('--expose-gc')
  })

  it('pulls from a registry and runs the image (the lazily loaded registry client)', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: `${reg.host}/fixtures/schema2:latest` })
    expect(r.json, r.text).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'schema2\n' })
  })

  it('runs a job through the bundled CLI, and its logs come back', async () => {
    const env = { SKIFF_FROM_SOURCE: '' }
    const run = await runSkiff(d, ['run', '-d', 'busybox', 'sh', '-c', 'echo from the bundle'], { env })
    expect(run.code, run.stderr).toBe(0)
    const id = run.stdout.trim()
    const w = await runSkiff(d, ['wait', id], { env })
    expect(w.stdout.trim()).toBe('0')
    const logs = await runSkiff(d, ['logs', '-f', id], { env })
    expect(logs.stdout).toBe('from the bundle\n')
    const bad = await runSkiff(d, ['run', '--rm', 'busybox', 'nosuchcommand'], { env })
    expect(bad.code).toBe(127)
  })

  it('fires a schedule in a time zone (cron and Intl in the bundle), and execs in a running job', async () => {
    const c = await d.api('POST', '/schedules', { name: 'bundled', cron: '* * * * * *', timezone: 'Europe/Berlin', job: { image: 'busybox', cmd: ['sleep', '60'] } })
    expect(c.status, c.text).toBe(201)
    const run = await waitFor('a running run', async () => {
      const jobs = (await d.api('GET', '/jobs?label=skiff.schedule=bundled')).json.items as { id: string; state: string }[]
      return jobs.find((j) => j.state === 'running')
    })
    expect((await d.api('PATCH', '/schedules/bundled', { suspend: true })).status).toBe(200)
    const e = await runSkiff(d, ['exec', run.id, 'echo', 'exec in the bundle'], { env: { SKIFF_FROM_SOURCE: '' } })
    expect(e.stdout, e.stderr).toBe('exec in the bundle\n')
    const del = await d.api('DELETE', '/schedules/bundled?force=true')
    expect(del.status, del.text).toBe(204)
  })

  it('serves /docs with its assets from the package, and the API description', async () => {
    for (const p of ['/docs', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']) expect((await d.api('GET', p)).status, p).toBe(200)
    expect((await d.api('GET', '/openapi.json')).json.paths['/run']).toBeDefined()
  })
})
