import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createRuntime } from '../../../src/runtime/index.js'
import { silentLogger } from '../../../src/lib/log.js'

// Found by the kill -9 crash-point loop: a daemon killed inside runtime.create,
// after the rootfs was mounted but before meta.json was written, left the bundle
// dir and its overlay mount behind for good (adopt saw no meta and gave up).
const root = mkdtempSync(join(tmpdir(), 'skiff-adopt-'))
afterAll(() => {
  try { execFileSync('umount', ['-l', join(root, 'containers', 'JOBX.1', 'merged')], { stdio: 'ignore' }) } catch { /* gone */ }
  rmSync(root, { recursive: true, force: true })
})
const mounted = (p: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === p)

describe('runtime.adopt of a create cut short', () => {
  it('takes down the mount and the bundle dir of a container that has no meta yet', async () => {
    const rt = createRuntime({ root, log: silentLogger })
    const dir = join(root, 'containers', 'JOBX.1')
    const merged = join(dir, 'merged')
    mkdirSync(merged, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', merged])
    expect(mounted(merged)).toBe(true)
    expect(await rt.adopt('JOBX.1')).toBeUndefined()
    expect(mounted(merged)).toBe(false)
    expect(existsSync(dir)).toBe(false)
    rt.close?.()
  })
})
