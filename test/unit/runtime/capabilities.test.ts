import { describe, expect, it } from 'vitest'
import { ALL_CAPS, capsNotAllowed, DEFAULT_CAPS, normalizeCap, resolveCaps } from '../../../src/runtime/capabilities.js'
import { defaultSeccomp } from '../../../src/runtime/seccomp.js'
import { buildSpec, type SpecInput } from '../../../src/runtime/spec.js'
import { checkPrivileges } from '../../../src/scheduler/privileges.js'
import { parseConfig } from '../../../src/config.js'
import { RunRequestSchema, toRunSpec } from '../../../src/http/schemas/run-request.js'

describe('default capability set', () => {
  it('is Podman\'s: docker\'s minus NET_RAW, MKNOD and AUDIT_WRITE', () => {
    expect([...DEFAULT_CAPS].sort()).toEqual(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT'])
    for (const c of ['CAP_NET_RAW', 'CAP_MKNOD', 'CAP_AUDIT_WRITE']) expect(DEFAULT_CAPS).not.toContain(c)
    expect(ALL_CAPS).toHaveLength(41)
  })
})

describe('normalizeCap', () => {
  it.each([
    ['net_raw', 'CAP_NET_RAW'], ['NET_RAW', 'CAP_NET_RAW'], ['CAP_NET_RAW', 'CAP_NET_RAW'], [' cap_sys_admin ', 'CAP_SYS_ADMIN'],
    ['all', 'ALL'], ['CAP_ALL', 'ALL'], ['NET_FLY', undefined], ['', undefined], ['CAP_', undefined], ['__proto__', undefined],
  ])('%j → %j', (i, want) => expect(normalizeCap(i)).toBe(want))
})

describe('resolveCaps (docker order: drop, then add)', () => {
  it.each([
    [[], [], DEFAULT_CAPS],
    [['CAP_NET_RAW'], [], [...DEFAULT_CAPS, 'CAP_NET_RAW']],
    [[], ['CAP_CHOWN'], DEFAULT_CAPS.filter((c) => c !== 'CAP_CHOWN')],
    [['CAP_SETUID'], ['ALL'], ['CAP_SETUID']],
    [['CAP_CHOWN'], ['CAP_CHOWN'], DEFAULT_CAPS], // added back after the drop, in place at the end
    [['ALL'], [], ALL_CAPS],
  ])('add %j drop %j', (add, drop, want) => expect([...resolveCaps(add, drop)].sort()).toEqual([...want].sort()))
})

describe('capsNotAllowed / checkPrivileges', () => {
  it.each([
    [['CAP_CHOWN'], [], []],
    [['CAP_NET_RAW'], [], ['CAP_NET_RAW']],
    [['CAP_NET_RAW', 'CAP_SYS_ADMIN'], ['CAP_NET_RAW'], ['CAP_SYS_ADMIN']],
    [['ALL'], ['CAP_NET_RAW'], ['ALL']],
    [['ALL', 'CAP_SYS_ADMIN'], ['ALL'], []],
  ])('add %j with allowed %j refuses %j', (add, allowed, want) => expect(capsNotAllowed(add, allowed)).toEqual(want))

  it('throws 403-kind CAPABILITY_NOT_ALLOWED naming the first refused capability', () => {
    expect(() => checkPrivileges({ capAdd: ['CAP_NET_RAW', 'CAP_SYS_ADMIN'] }, { allowedCapabilities: ['CAP_NET_RAW'] })).toThrow(
      expect.objectContaining({ kind: 'permission_denied', code: 'CAPABILITY_NOT_ALLOWED', message: expect.stringContaining('CAP_SYS_ADMIN') }),
    )
    expect(() => checkPrivileges({}, { allowedCapabilities: [] })).not.toThrow()
  })
})

describe('config allowedCapabilities', () => {
  it('normalizes names from file and env; refuses unknown ones naming the setting', () => {
    expect(parseConfig({ allowedCapabilities: ['net_raw'] }, {}, {}).allowedCapabilities).toEqual(['CAP_NET_RAW'])
    expect(parseConfig({}, { SKIFF_ALLOWED_CAPABILITIES: 'NET_RAW, sys_ptrace' }, {}).allowedCapabilities).toEqual(['CAP_NET_RAW', 'CAP_SYS_PTRACE'])
    expect(parseConfig({}, {}, {}).allowedCapabilities).toEqual([])
    expect(() => parseConfig({ allowedCapabilities: ['NET_FLY'] }, {}, {})).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', extra: expect.objectContaining({ field: 'allowedCapabilities.0' }) }))
  })
})

describe('run request capAdd / capDrop', () => {
  it('normalizes and dedups into the RunSpec', () => {
    const r = RunRequestSchema.parse({ image: 'x', capAdd: ['net_raw', 'CAP_NET_RAW'], capDrop: ['ALL'] })
    expect(toRunSpec(r)).toMatchObject({ capAdd: ['CAP_NET_RAW'], capDrop: ['ALL'] })
    expect(toRunSpec(RunRequestSchema.parse({ image: 'x' }))).not.toHaveProperty('capAdd')
  })
  it.each([{ capAdd: ['NET_FLY'] }, { capAdd: 'NET_RAW' }, { capDrop: [1] }, { capAdd: Array(65).fill('CHOWN') }])('refuses %j', (extra) => {
    expect(RunRequestSchema.safeParse({ image: 'x', ...extra }).success).toBe(false)
  })
})

describe('seccomp follows the capabilities', () => {
  it('the default profile refuses ptrace and mount; SYS_PTRACE opens ptrace only', () => {
    const denied = (caps: string[]) => defaultSeccomp(caps).syscalls[0]!.names
    expect(denied([...DEFAULT_CAPS])).toEqual(expect.arrayContaining(['ptrace', 'mount', 'kexec_load']))
    expect(denied([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'])).not.toContain('ptrace')
    expect(denied([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'])).toContain('mount')
  })
  it('buildSpec puts the resolved set in every capability list and the matching profile', () => {
    const input: SpecInput = {
      process: { args: ['sh'], env: [], cwd: '/' }, hostname: 'h', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, limits: {},
      network: { mode: 'none' }, mounts: [], hostLimits: {}, cgroupsPath: '/skiff/x', rootfs: '/r', capAdd: ['sys_ptrace'], capDrop: ['CAP_CHOWN'],
    }
    const s = buildSpec(input)
    expect(s.process.capabilities.effective).toContain('CAP_SYS_PTRACE')
    expect(s.process.capabilities.bounding).not.toContain('CAP_CHOWN')
    expect(s.process.capabilities.permitted).toEqual(s.process.capabilities.bounding)
    expect(s.linux.seccomp!.syscalls[0]!.names).not.toContain('ptrace')
  })
})
