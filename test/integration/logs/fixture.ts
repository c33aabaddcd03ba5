import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { createLogStore, type LogStore } from '../../../src/logs/index.js'
import { makeBundle, runContainer, type Bundle, type RunningContainer } from './container.js'
import { JobTable, startLogServer } from './server.js'

export interface LogsFixture {
  logs: LogStore
  jobs: JobTable
  srv: Awaited<ReturnType<typeof startLogServer>>
}

/** A busybox bundle holding `blob` at /data/blob, a log store (1 GiB cap) and a log
 *  server for the tests of one file, torn down after them. `job(script)` starts a
 *  container as a job whose exit the job table learns from conmon's exit file. */
export function useLogsFixture(prefix: string, blob: Buffer) {
  let root: string
  let bundle: Bundle
  const containers: RunningContainer[] = []
  const fx = {} as LogsFixture
  let n = 0
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), prefix))
    bundle = makeBundle()
    bundle.put('data/blob', blob)
    fx.logs = createLogStore({ root: join(root, 'logs'), maxBytes: 1024 * 1024 * 1024 })
    fx.jobs = new JobTable()
    fx.srv = await startLogServer(fx.logs, fx.jobs)
  })
  afterAll(async () => {
    await fx.srv?.close()
    fx.logs?.close()
    for (const c of containers) await c.cleanup()
    bundle?.remove()
    rmSync(root, { recursive: true, force: true })
  })
  async function job(script: string): Promise<{ id: string; c: RunningContainer }> {
    const id = `${prefix.replace(/\W/g, '')}${n++}`
    fx.jobs.add(id)
    const c = await runContainer(bundle, ['sh', '-c', script], fx.logs.pathFor(id))
    containers.push(c)
    void c.exited.then((code) => fx.jobs.finish(id, code))
    return { id, c }
  }
  return { fx, job }
}
