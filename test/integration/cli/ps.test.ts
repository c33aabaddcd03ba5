import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { waitFor } from '../../helpers/wait.js'

// `skiff ps` against a daemon of its own with more jobs than one page of GET /jobs (100).
const daemon = useBusyboxDaemon({ maxConcurrent: 8 })
let d: TestDaemon
const done: string[] = [] // oldest first
let sleeper = ''
const skiff = (args: string[]) => runSkiff(d, args)
const lines = (s: string) => s.split('\n').filter(Boolean)

beforeAll(async () => {
  d = daemon()
  for (let i = 0; i < 105; i++) {
    const r = await d.api('POST', '/run', { image: 'busybox', cmd: ['true'] })
    expect(r.status).toBe(201)
    done.push(r.json.id)
  }
  await waitFor('105 jobs exited', async () => (await d.api('GET', '/jobs?state=exited&limit=1000')).json.items.length === 105, { timeoutMs: 300_000 })
  sleeper = (await d.api('POST', '/run', { image: 'busybox', name: 'ps-sleeper', cmd: ['sh', '-c', 'echo hello from skiff; exec sleep 100000'] })).json.id
  await waitFor('the sleeper running', async () => (await d.api('GET', `/jobs/${sleeper}`)).json.state === 'running')
}, 360_000)

describe('skiff ps', () => {
  it('-a follows the cursor past the first page: every job, -q every id', async () => {
    const all = [sleeper, ...[...done].reverse()]
    const q = await skiff(['ps', '-aq'])
    expect(q.code).toBe(0)
    expect(lines(q.stdout)).toEqual(all)
    const t = await skiff(['ps', '-a'])
    expect(lines(t.stdout)).toHaveLength(1 + all.length)
    expect(lines(t.stdout).filter((l) => /Exited \(0\)/.test(l))).toHaveLength(105)
  })

  it('a status filter applies without -a (it implies every state)', async () => {
    expect(lines((await skiff(['ps', '-q', '-f', 'status=exited'])).stdout)).toEqual([...done].reverse())
    expect(lines((await skiff(['ps', '-q', '-f', 'status=running'])).stdout)).toEqual([sleeper])
    const bad = await skiff(['ps', '-f', 'colour=red'])
    expect(bad.code).toBe(125)
    expect(bad.stderr).toMatch(/^skiff: -f\/--filter: unknown filter "colour"/)
  })

  it('without -a: the active jobs only; -n N and -l: the newest in any state', async () => {
    expect(lines((await skiff(['ps', '-q'])).stdout)).toEqual([sleeper])
    expect(lines((await skiff(['ps', '-q', '-n', '3'])).stdout)).toEqual([sleeper, done[104], done[103]])
    expect(lines((await skiff(['ps', '-ql'])).stdout)).toEqual([sleeper])
    expect(lines((await skiff(['ps', '-q', '--last', '102'])).stdout)).toHaveLength(102)
  })

  it('COMMAND is cut inside its quotes as docker cuts it; --no-trunc shows all of it', async () => {
    const row = lines((await skiff(['ps'])).stdout)[1]!
    expect(row).toContain(`"sh -c 'echo hello f…"`)
    expect(lines((await skiff(['ps', '--no-trunc'])).stdout)[1]).toContain(`"sh -c 'echo hello from skiff; exec sleep 100000'"`)
  })
})
