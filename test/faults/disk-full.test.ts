import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { file, dir, buildTar } from '../fixtures/tar.js'
import { busyboxRootfs, image, layer, layerFromTar, pushImage } from '../fixtures/images.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { importBusybox, killContainers, startDaemon, type TestDaemon } from '../helpers/daemon.js'
import { runSkiff } from '../helpers/skiff-cli.js'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'

// The data dir on a small tmpfs this test mounts: a pull, an import and a job's
// log that run out of space fail with an error that says so, leave nothing
// half-written behind, and work again once there is room. The daemon keeps serving.
const MiB = 1024 * 1024
const SIZE = 96 * MiB
const BIG = 24 * MiB
let root: string
let data: string
let reg: TestRegistry
let d: TestDaemon
let bigTar: Buffer

const free = () => {
  const s = statfsSync(data)
  return s.bavail * s.bsize
}
/** Fill the tmpfs until `leave` bytes are free (filler files, removed by unfill). Topped up
 *  until it holds: space freed meanwhile (a last unlinked runtime copy closing) is taken too. */
let fillers = 0
const fill = (leave: number) => {
  for (let n = free() - leave; n > 0; n = free() - leave) execFileSync('fallocate', ['-l', String(n), join(data, `filler${fillers++}`)])
}
const unfill = () => {
  for (let i = 0; i < fillers; i++) rmSync(join(data, `filler${i}`), { force: true })
  fillers = 0
}

const storeProblems = async () => {
  const r = await runSkiff(d, ['doctor', '--store', '--json', '--data-dir', data])
  return (JSON.parse(r.stdout) as { check: string; ok: boolean; message: string }[]).filter((f) => !f.ok)
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'skiff-full-'))
  data = join(root, 'data')
  mkdirSync(data)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE},mode=0700`, 'tmpfs', data])
  reg = await startRegistry()
  // incompressible and uncompressed: the blob and its snapshot take BIG each
  bigTar = await buildTar([dir('data'), file('data/random', randomBytes(BIG))])
  const base = await layer(busyboxRootfs(), 'gzip')
  await pushImage(reg, 'fixtures/big', 'latest', image([base, await layerFromTar(bigTar, 'none')]))
  // importBusybox's rootfs tar, made now: making it later blocks this process for seconds,
  // long enough for the daemon to close our idle keep-alive connection under undici's feet
  execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), join(data, 'busybox-rootfs.tar')])
  d = await startDaemon({ dataDir: data })
}, 180_000)

afterAll(async () => {
  await d?.stop()
  if (d) killContainers(data)
  await reg?.stop()
  if (data && existsSync(data)) {
    const inner = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => !!m && m.startsWith(data + '/'))
    for (const m of inner.sort().reverse()) execFileSync('umount', ['-l', m])
    execFileSync('umount', [data])
  }
  if (root) rmSync(root, { recursive: true, force: true })
})

const expectNoSpace = (r: { status: number; json: any; text: string }, what: RegExp) => {
  expect(r.status, r.text).toBe(507)
  expect(r.json.error.code).toBe('NO_SPACE')
  expect(r.json.error.message).toMatch(/no space left on device \(ENOSPC\)/)
  expect(r.json.error.message).toMatch(what)
}

describe('a full data dir', () => {
  it('a pull that runs out of space while downloading fails with 507 NO_SPACE, leaves nothing half-written, and succeeds once there is room', async () => {
    fill(8 * MiB)
    expectNoSpace(await d.api('POST', '/images/pull', { image: `${reg.host}/fixtures/big` }), /^pull 127\.0\.0\.1:\d+\/fixtures\/big:latest: /)
    expect((await d.api('GET', '/healthz')).status).toBe(200)
    expect(await storeProblems()).toEqual([])
    expect((await d.api('GET', '/images')).json.items).toEqual([])
    unfill()
    const ok = await d.api('POST', '/images/pull', { image: `${reg.host}/fixtures/big` })
    expect(ok.status, ok.text).toBe(200)
    expect(await storeProblems()).toEqual([])
    expect((await d.api('DELETE', `/images/${encodeURIComponent(`${reg.host}/fixtures/big`)}`)).status).toBeLessThan(300)
    await d.api('POST', '/images/prune')
  })

  it('a pull that runs out of space while unpacking (the blob fitted) fails the same way and retries cleanly', async () => {
    fill(BIG + 8 * MiB)
    expectNoSpace(await d.api('POST', '/images/pull', { image: `${reg.host}/fixtures/big` }), /^pull 127\.0\.0\.1:\d+\/fixtures\/big:latest: /)
    expect(await storeProblems()).toEqual([])
    unfill()
    const ok = await d.api('POST', '/images/pull', { image: `${reg.host}/fixtures/big` })
    expect(ok.status, ok.text).toBe(200)
    // every layer is there as a whole: a job sees the big file in full
    await importBusybox(d)
    const r = await d.api('POST', '/run?wait=true', { image: `${reg.host}/fixtures/big`, cmd: ['/bin/busybox', 'wc', '-c', '/data/random'] })
    expect(r.json, r.text).toMatchObject({ exitCode: 0, stdout: `${BIG} /data/random\n` })
    expect((await d.api('DELETE', `/images/${encodeURIComponent(`${reg.host}/fixtures/big`)}?force=true`)).status).toBeLessThan(300)
    await d.api('POST', '/images/prune')
  })

  it('an import that runs out of space fails with 507 NO_SPACE and leaves nothing half-written', async () => {
    fill(8 * MiB)
    const r = await d.raw('POST', '/images/import?ref=big-import:1', { body: bigTar, headers: { 'content-type': 'application/x-tar' } })
    const text = await r.body.text()
    expectNoSpace({ status: r.statusCode, json: JSON.parse(text), text }, /^import big-import:1: /)
    expect(await storeProblems()).toEqual([])
    unfill()
    const ok = await d.raw('POST', '/images/import?ref=big-import:1', { body: bigTar, headers: { 'content-type': 'application/x-tar' } })
    expect(ok.statusCode, await ok.body.text()).toBe(201)
  })

  it('a job whose log hits ENOSPC goes on to its end and is recorded as having lost output; the daemon keeps serving', async () => {
    await importBusybox(d)
    fill(4 * MiB)
    // 16 MiB of output into a filesystem with 4 MiB of room: conmon's write fails with ENOSPC.
    // Its last line waits until the daemon has made room (1 MiB free on its own rootfs, the
    // same filesystem): a line written while the disk is full may be lost (README), and this
    // asserts that the newest output is kept, not how fast room is made.
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: `yes "$(head -c 999 /dev/zero | tr '\\0' a)" | head -c ${16 * MiB}; until [ "$(df -k / | awk 'NR==2{print $4}')" -gt 1024 ]; do usleep 10000; done; echo; echo last-line` })
    expect(r.status, r.text).toBe(200)
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 0, reason: 'log_truncated' })
    expect(r.json.message).toMatch(/^log truncated: the data dir's filesystem was full \(ENOSPC\); \d+ bytes of older output were dropped/)
    const lost = Number(/(\d+) bytes/.exec(r.json.message)![1])
    expect(lost).toBeGreaterThan(0)
    // what was kept is the newest output, through the last line; the dropped range is marked
    expect((await d.api('GET', `/jobs/${r.json.id}/logs?tail=1`)).text).toBe('last-line\n')
    const all = await (await d.raw('GET', `/jobs/${r.json.id}/logs?from=0`, { headers: { accept: 'application/x-ndjson' } })).body.text()
    const first = JSON.parse(all.slice(0, all.indexOf('\n'))) as { dropped?: { from: number; to: number } }
    expect(first.dropped).toEqual({ from: 0, to: lost })
    unfill()
    expect((await d.api('GET', `/jobs/${r.json.id}`)).json).toMatchObject({ reason: 'log_truncated', message: r.json.message })
    const next = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'echo fine' })
    expect(next.json).toMatchObject({ exitCode: 0, stdout: 'fine\n', reason: null })
    expect(await storeProblems()).toEqual([])
  })

  it('with no space at all: reads are served, a submit is 507 NO_SPACE and makes no job; a job killed meanwhile is recorded (its exit code lost) once there is room', async () => {
    await importBusybox(d)
    const s = await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '1000'] })
    expect(s.status, s.text).toBe(201)
    await expect.poll(async () => (await d.api('GET', `/jobs/${s.json.id}`)).json.state, { timeout: 30_000 }).toBe('running')
    const before = (await d.api('GET', '/jobs')).json.items.length
    fill(0)
    expect(free()).toBe(0)
    const r = await d.api('POST', '/run', { image: 'busybox', cmd: 'true' })
    expect(r.status, r.text).toBe(507)
    expect(r.json.error).toMatchObject({ code: 'NO_SPACE', message: expect.stringMatching(/SQLITE_FULL/) })
    expect((await d.api('GET', '/jobs')).json.items.length).toBe(before)
    // conmon cannot write the exit file, and the daemon cannot write the end: it waits for room
    expect((await d.api('POST', `/jobs/${s.json.id}/kill`, { signal: 'SIGKILL' })).status).toBe(202)
    const ended = d.api('POST', `/jobs/${s.json.id}/wait`)
    expect((await d.api('GET', '/healthz')).status).toBe(200)
    expect((await d.api('GET', `/jobs/${s.json.id}`)).json.state).toBe('running')
    unfill()
    expect((await ended).json).toMatchObject({ state: 'killed', exitCode: null, message: expect.stringMatching(/ended without recording its exit code/) })
    expect(await storeProblems()).toEqual([])
    const next = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'echo fine' })
    expect(next.json).toMatchObject({ exitCode: 0, stdout: 'fine\n' })
  })
})
