import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { privateRuntimeCopy } from '../../../src/runtime/runtime-binary.js'

/** fds of this process that point at an unlinked runtime copy */
const openCopies = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return /\.runtime-\w+ \(deleted\)$/.test(readlinkSync(`/proc/self/fd/${fd}`))
    } catch {
      return false
    }
  })

describe('private runtime copy', () => {
  let dir: string
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'skiff-rtbin-'))))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('is an unlinked one-use copy that runs as crun without re-executing itself; the installed binary is untouched', async () => {
    const before = readFileSync('/usr/bin/crun')
    const a = await privateRuntimeCopy('/usr/bin/crun', dir)
    const b = await privateRuntimeCopy('/usr/bin/crun', dir)
    try {
      expect(a.path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
      expect(b.path).not.toBe(a.path) // a copy per create, never shared
      expect(readdirSync(dir)).toEqual([]) // nothing on disk to reach
      expect(execFileSync(a.path, ['--version'], { env: { ...process.env, ...a.env }, encoding: 'utf8' })).toMatch(/^crun version/)
      // crun's memfd re-exec shows as an execveat: the installed binary does it, the copy does not
      const trace = (bin: string, env: NodeJS.ProcessEnv) => spawnSync('strace', ['-f', '-e', 'trace=execve,execveat', bin, '--version'], { env, encoding: 'utf8' }).stderr
      expect(trace('/usr/bin/crun', process.env)).toContain('execveat(')
      expect(trace(a.path, { ...process.env, ...a.env })).not.toContain('execveat(')
      expect(openCopies().length).toBe(2)
    } finally {
      await a.close()
      await b.close()
    }
    expect(openCopies()).toEqual([])
    expect(readFileSync('/usr/bin/crun').equals(before)).toBe(true)
  })

  it('falls back to the installed binary when it cannot copy', async () => {
    const b = await privateRuntimeCopy('/usr/bin/crun', join(dir, 'missing-dir'))
    expect(b).toMatchObject({ path: '/usr/bin/crun', env: {} })
    await b.close()
  })
})
