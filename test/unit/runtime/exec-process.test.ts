import { describe, expect, it } from 'vitest'
import { execProcess } from '../../../src/runtime/exec.js'
import type { OciProcess } from '../../../src/runtime/oci-spec.js'

const base = {
  terminal: false, user: { uid: 0, gid: 0 }, args: ['sleep', '1000'], env: ['PATH=/bin', 'HOME=/root', 'A=1'], cwd: '/work',
  capabilities: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] }, rlimits: [], noNewPrivileges: true, oomScoreAdj: 0,
} as unknown as OciProcess

describe('execProcess', () => {
  it('keeps the container\'s process settings and changes argv, env, cwd and user only', () => {
    const p = execProcess(base, ['id'], { env: { A: '2', B: '3' }, cwd: '/tmp' }, { uid: 65534, gid: 65534, additionalGids: [], home: '/nonexistent' })
    expect(p).toMatchObject({ args: ['id'], cwd: '/tmp', user: { uid: 65534, gid: 65534 }, noNewPrivileges: true, capabilities: base.capabilities })
    expect(p.env).toEqual(['PATH=/bin', 'HOME=/nonexistent', 'A=2', 'B=3'])
    expect(p.user).not.toHaveProperty('additionalGids')
  })
  it('without a user: the container\'s user, HOME and cwd', () => {
    const p = execProcess(base, ['true'], {})
    expect(p).toMatchObject({ user: { uid: 0, gid: 0 }, cwd: '/work', env: base.env })
  })
  it('the caller\'s HOME wins over the user\'s; additional groups are kept', () => {
    const p = execProcess(base, ['true'], { env: { HOME: '/h' } }, { uid: 1, gid: 2, additionalGids: [3, 4], home: '/u' })
    expect(p.env).toContain('HOME=/h')
    expect(p.user).toEqual({ uid: 1, gid: 2, additionalGids: [3, 4] })
  })
  it('with a terminal: terminal and its size; without one, none (even in a tty job)', () => {
    expect(execProcess(base, ['sh'], { tty: { rows: 30, cols: 90 } })).toMatchObject({ terminal: true, consoleSize: { height: 30, width: 90 } })
    const p = execProcess({ ...base, terminal: true, consoleSize: { height: 1, width: 1 } } as OciProcess, ['sh'], {})
    expect(p.terminal).toBe(false)
    expect(JSON.parse(JSON.stringify(p))).not.toHaveProperty('consoleSize')
  })
})
