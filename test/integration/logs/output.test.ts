import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { jobOutput } from '../../../src/http/output.js'
import { createLogStore } from '../../../src/logs/index.js'

// The ?wait=true output tail, over conmon k8s-file logs written here directly.
const root = mkdtempSync(join(tmpdir(), 'skiff-output-'))
const logs = createLogStore({ root, sweepMs: 0 })
afterAll(() => {
  logs.close()
  rmSync(root, { recursive: true, force: true })
})

const T = '2026-11-29T00:00:00.000000000+00:00'
function write(id: string, lines: [('stdout' | 'stderr'), string][]) {
  writeFileSync(logs.pathFor(id), lines.map(([s, l]) => `${T} ${s} F ${l}\n`).join(''))
}

describe('jobOutput', () => {
  it('a small log: both streams whole, not truncated, read in one pass', async () => {
    write('small', [['stdout', 'a'], ['stderr', 'oops'], ['stdout', 'b']])
    expect(await jobOutput(logs, 'small', 1000)).toEqual({ stdout: 'a\nb\n', stderr: 'oops\n', truncated: false })
    expect(await jobOutput(logs, 'no-log-yet', 1000)).toEqual({ stdout: '', stderr: '', truncated: false })
  })

  it('a log bigger than twice the cap: only the tail of each stream, flagged truncated', async () => {
    const lines: [('stdout' | 'stderr'), string][] = Array.from({ length: 400 }, (_, i) => ['stdout', `line ${String(i).padStart(4, '0')}`])
    write('big', lines)
    const out = await jobOutput(logs, 'big', 1000)
    expect(out.truncated).toBe(true)
    expect(out.stdout.length).toBe(1000)
    expect(out.stdout.endsWith('line 0399\n')).toBe(true)
    // the same bytes as the full output's tail
    const all = lines.map(([, l]) => l + '\n').join('')
    expect(out.stdout).toBe(all.slice(-1000))
  })

  it('on both sides of the one-pass boundary (file ≤ 2×cap) the answer is the same', async () => {
    // one 100-char line: 101 bytes of output in a 146-byte file; caps 70…76 put
    // 2×cap on both sides of 146
    const line = 'y'.repeat(99) + 'z'
    write('edge', [['stdout', line]])
    for (let max = 70; max <= 76; max++) {
      const out = await jobOutput(logs, 'edge', max)
      expect(out).toEqual({ stdout: (line + '\n').slice(-max), stderr: '', truncated: true })
    }
  })
})
