import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importBusybox, killContainers, removeDataDir, startDaemon, type TestDaemon } from '../helpers/daemon.js'
import { runSkiff } from '../helpers/skiff-cli.js'
import { ensureLimitedLayer, removeLimitedLayer } from '../../src/runtime/disk-quota.js'

// limits.disk: a job's writable layer is a btrfs subvolume with a qgroup limit
// (src/runtime/disk-quota.ts). The data dir is a btrfs image this test makes and
// loop-mounts with quotas enabled; a second daemon on a plain dir (tmpfs/ext4)
// must refuse the limit at submit.
const MiB = 1024 * 1024
let root: string
let mnt: string
let img: string
let d: TestDaemon
let plain: TestDaemon | undefined

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'skiff-disk-'))
  img = join(root, 'btrfs.img')
  mnt = join(root, 'mnt')
  mkdirSync(mnt)
  execFileSync('truncate', ['-s', '512M', img])
  execFileSync('mkfs.btrfs', ['-q', img])
  // -o loop: the loop device is set to autoclear, so umount frees it; commit=5: the
  // cleaner that drops a deleted subvolume runs at each commit (default every 30 s)
  execFileSync('mount', ['-o', 'loop,commit=5', img, mnt])
  execFileSync('btrfs', ['quota', 'enable', mnt])
  d = await startDaemon({ dataDir: join(mnt, 'data') })
  await importBusybox(d)
}, 180_000)

afterAll(async () => {
  await d?.stop()
  if (d) killContainers(d.dataDir)
  await plain?.stop()
  if (plain) removeDataDir(plain.dataDir)
  if (mnt && existsSync(mnt)) {
    // a container's overlay left by a failed test, then the filesystem itself
    const inner = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m): m is string => !!m && m.startsWith(mnt + '/'))
    for (const m of inner.sort().reverse()) execFileSync('umount', ['-l', m])
    try {
      execFileSync('umount', [mnt])
    } catch {
      execFileSync('umount', ['-l', mnt])
    }
  }
  if (img) {
    const loops = execFileSync('losetup', ['-j', img], { encoding: 'utf8' }).trim()
    for (const l of loops.split('\n').filter(Boolean)) execFileSync('losetup', ['-d', l.split(':')[0]!])
  }
  if (root) rmSync(root, { recursive: true, force: true })
})

const run = (body: object) => d.api('POST', '/run?wait=true', { image: 'busybox', ...body })

describe('limits.disk on btrfs with quotas', () => {
  it('a job writing past its limit fails with EDQUOT; one under it succeeds; the host filesystem keeps its space', async () => {
    const over = await run({ cmd: 'dd if=/dev/zero of=/big bs=1M count=64 && sync', limits: { disk: '16m' } })
    expect(over.status, over.text).toBe(200)
    expect(over.json.exitCode).not.toBe(0)
    expect(over.json.stderr).toMatch(/Disk quota exceeded|No space left/)
    // the filesystem itself still has room: only the job's layer was full
    expect(statfsSync(mnt).bavail * statfsSync(mnt).bsize).toBeGreaterThan(200 * MiB)

    const under = await run({ cmd: 'dd if=/dev/zero of=/small bs=1M count=8 && sync && echo ok', limits: { disk: '16m' } })
    expect(under.json, under.text).toMatchObject({ exitCode: 0, stdout: 'ok\n' })

    // without a limit the same write goes through: the limit is the job's, not the filesystem's
    const free = await run({ cmd: 'dd if=/dev/zero of=/big bs=1M count=64 && sync && echo ok' })
    expect(free.json).toMatchObject({ exitCode: 0, stdout: 'ok\n' })
  })

  it('bad sizes are 400s naming limits.disk', async () => {
    for (const disk of ['lots', '512k', -1]) {
      const r = await d.api('POST', '/run', { image: 'busybox', cmd: 'true', limits: { disk } })
      expect(r.status, JSON.stringify(disk)).toBe(400)
      expect(r.json.error.field).toBe('limits.disk')
    }
  })

  it('skiff doctor says disk limits are available', async () => {
    const r = await runSkiff(d, ['doctor', '--json', '--data-dir', d.dataDir])
    const f = (JSON.parse(r.stdout) as { check: string; ok: boolean; message: string }[]).find((x) => x.check === 'disk-limits')
    expect(f).toMatchObject({ ok: true })
  })

  it('the limit is the kernel\'s: it holds with the daemon killed -9 and after its restart; the layer goes with the job', async () => {
    const s = await d.api('POST', '/run', { image: 'busybox', cmd: 'dd if=/dev/zero of=/f bs=1M count=6 && sync; sleep 1000', limits: { disk: '10m' } })
    expect(s.status, s.text).toBe(201)
    const id = s.json.id as string
    const layer = join(d.dataDir, 'runtime', 'layers', id)
    await expect.poll(async () => (await d.api('GET', `/jobs/${id}`)).json.state, { timeout: 30_000 }).toBe('running')
    await d.kill9()
    // the limit is on disk, not in the daemon: another write into the same layer from the host side stops at it
    expect(() => execFileSync('dd', ['if=/dev/zero', `of=${join(layer, 'upper', 'g')}`, 'bs=1M', 'count=32', 'conv=fsync'], { stdio: 'pipe' })).toThrow(/Disk quota exceeded/)
    await d.restart()
    expect((await d.api('POST', `/jobs/${id}/kill`, { signal: 'SIGKILL' })).status).toBe(202)
    await d.api('POST', `/jobs/${id}/wait`)
    expect((await d.api('DELETE', `/jobs/${id}`)).status).toBe(204)
    expect(existsSync(layer)).toBe(false)
    // the subvolume and (once the kernel's cleaner is done) its qgroup are gone
    execFileSync('btrfs', ['subvolume', 'sync', mnt])
    expect(execFileSync('btrfs', ['subvolume', 'list', mnt], { encoding: 'utf8' })).not.toContain(id)
    expect(readdirSync(join(d.dataDir, 'runtime', 'layers'))).not.toContain(id)
  })
})

describe('the layer as a limited subvolume (disk-quota.ts)', () => {
  it('making it twice keeps one subvolume and the newer limit; removing it twice is a no-op the second time', async () => {
    const layer = join(mnt, 'direct-layer')
    await ensureLimitedLayer(layer, 32 * MiB)
    await ensureLimitedLayer(layer, 4 * MiB)
    expect(() => execFileSync('dd', ['if=/dev/zero', `of=${join(layer, 'f')}`, 'bs=1M', 'count=8', 'conv=fsync'], { stdio: 'pipe' })).toThrow(/Disk quota exceeded/)
    expect(await removeLimitedLayer(layer)).toBe(true)
    expect(existsSync(layer)).toBe(false)
    expect(await removeLimitedLayer(layer)).toBe(false)
    // a plain dir is not the quota's to remove
    mkdirSync(layer)
    expect(await removeLimitedLayer(layer)).toBe(false)
    await expect(ensureLimitedLayer(layer, 4 * MiB)).rejects.toMatchObject({ code: 'DISK_LIMIT_UNAVAILABLE' })
    rmSync(layer, { recursive: true })
  })
})

describe('limits.disk on a filesystem without quotas', () => {
  it('is refused at submit with a 400 naming limits.disk and saying why and how to enable it; no job is made', async () => {
    plain = await startDaemon()
    const before = (await plain.api('GET', '/jobs')).json.items.length
    const r = await plain.api('POST', '/run', { image: 'busybox', cmd: 'true', limits: { disk: '512m' } })
    expect(r.status, r.text).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'DISK_LIMIT_UNAVAILABLE', field: 'limits.disk' })
    expect(r.json.error.message).toMatch(/^limits\.disk: the data dir's filesystem \(\S+ on .+\) cannot limit a job's disk; .*btrfs quota enable/)
    expect((await plain.api('GET', '/jobs')).json.items.length).toBe(before)
    const doc = await runSkiff(plain, ['doctor', '--json', '--data-dir', plain.dataDir])
    const f = (JSON.parse(doc.stdout) as { check: string; ok: boolean; message: string }[]).find((x) => x.check === 'disk-limits')
    expect(f).toMatchObject({ ok: false, severity: 'warn' })
    expect(f!.message).toMatch(/cannot limit a job's disk/)
  })
})
