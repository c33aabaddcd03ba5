import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { mountFs, nativeMountAvailable, unmountFs } from '../../../src/lib/mount.js'

const dir = mkdtempSync(join(tmpdir(), 'skiff-mount-'))
const mounted = (p: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === p)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('mount helpers', () => {
  it('the native addon is built by npm install', () => {
    expect(nativeMountAvailable()).toBe(true)
  })

  it('mounts an overlay, sees the merged view, and unmounts it', async () => {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(join(dir, d))
    writeFileSync(join(dir, 'lower/a'), 'from lower')
    const merged = join(dir, 'merged')
    await mountFs({ source: 'overlay', target: merged, type: 'overlay', options: `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work` })
    expect(mounted(merged)).toBe(true)
    expect(readFileSync(join(merged, 'a'), 'utf8')).toBe('from lower')
    expect(await unmountFs(merged)).toBe(true)
    expect(mounted(merged)).toBe(false)
    expect(await unmountFs(merged)).toBe(false)
  })

  it('names the target when a mount fails', async () => {
    await expect(mountFs({ source: 'overlay', target: join(dir, 'nope'), type: 'overlay', options: 'lowerdir=/nonexistent' })).rejects.toMatchObject({ code: 'MOUNT_FAILED' })
  })
})
