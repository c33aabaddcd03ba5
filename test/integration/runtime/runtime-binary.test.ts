import { execFileSync, spawnSync } from 'node:child_process'
import { fstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { privateRuntimeBinary } from '../../../src/runtime/runtime-binary.js'

describe('private runtime binary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-rtbin-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('is an unlinked copy that runs as crun without re-executing itself, and the original is untouched', () => {
    const before = readFileSync('/usr/bin/crun')
    const b = privateRuntimeBinary('/usr/bin/crun', dir)
    try {
      expect(b.path).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`))
      const fd = Number(b.path.split('/').pop())
      expect(fstatSync(fd).nlink).toBe(0)
      expect(readdirSync(dir)).toEqual([]) // nothing on disk to reach
      expect(execFileSync(b.path, ['--version'], { env: { ...process.env, ...b.env }, encoding: 'utf8' })).toMatch(/^crun version/)
      // crun's memfd re-exec shows up as a second execve of the same process: none with the copy
      const trace = (bin: string, env: NodeJS.ProcessEnv) => spawnSync('strace', ['-f', '-e', 'trace=execve,execveat', bin, '--version'], { env, encoding: 'utf8' }).stderr
      expect(trace('/usr/bin/crun', process.env)).toContain('execveat(')
      expect(trace(b.path, { ...process.env, ...b.env })).not.toContain('execveat(')
    } finally {
      b.close()
    }
    expect(readFileSync('/usr/bin/crun').equals(before)).toBe(true)
  })

  it('falls back to the installed binary when it cannot copy', () => {
    const b = privateRuntimeBinary('/usr/bin/crun', join(dir, 'missing-dir'))
    expect(b).toMatchObject({ path: '/usr/bin/crun', env: {} })
    b.close()
  })
})
