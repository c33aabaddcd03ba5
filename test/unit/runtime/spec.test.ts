import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { detectCgroupMode, cgroupDirs } from '../../../src/runtime/cgroups/detect.js'
import { parseKeyValues, usageFromV1, usageFromV2 } from '../../../src/runtime/cgroups/usage.js'
import { decodeExit } from '../../../src/runtime/container.js'
import { evaluate, type HostFacts } from '../../../src/runtime/doctor.js'
import { overlayOptions } from '../../../src/runtime/rootfs.js'
import { buildSpec, withHome, type SpecInput } from '../../../src/runtime/spec.js'
import { DEFAULT_CAPS, parseHostLimits } from '../../../src/runtime/spec-defaults.js'
import { resolveUser } from '../../../src/runtime/user.js'

const input = (o: Partial<SpecInput> = {}): SpecInput => ({
  process: { args: ['sh'], env: ['PATH=/bin', 'A=image'], cwd: '/' }, hostname: 'h',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, limits: {}, network: { mode: 'none' }, mounts: [],
  hostLimits: { RLIMIT_NOFILE: 20000 }, cgroupsPath: '/skiff/x', rootfs: '/r', ...o,
})

describe('buildSpec', () => {
  it('isolates by default: namespaces, no_new_privileges, docker caps, masked paths, seccomp', () => {
    const s = buildSpec(input())
    expect(s.linux.namespaces.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts'])
    expect(s.process.noNewPrivileges).toBe(true)
    expect(s.process.capabilities.bounding).toEqual([...DEFAULT_CAPS])
    expect(s.linux.maskedPaths).toContain('/proc/kcore')
    expect(s.linux.readonlyPaths).toContain('/proc/sys')
    expect(s.linux.seccomp?.syscalls[0]?.names).toContain('kexec_load')
    expect(s.process.terminal).toBe(false)
  })
  it('host network shares the host netns and binds /sys', () => {
    const s = buildSpec(input({ network: { mode: 'host' } }))
    expect(s.linux.namespaces.map((n) => n.type)).not.toContain('network')
    expect(s.mounts.find((m) => m.destination === '/sys')?.type).toBe('bind')
  })
  it.each([
    [{ cpus: 0.5 }, { cpu: { quota: 50_000, period: 100_000 } }],
    [{ memoryBytes: 64 * 1024 * 1024 }, { memory: { limit: 67108864, swap: 67108864 } }],
    [{ pids: 64 }, { pids: { limit: 64 } }],
  ])('limits %j → %j', (limits, want) => {
    expect(buildSpec(input({ limits })).linux.resources).toMatchObject(want)
  })
  it('adds and drops capabilities', () => {
    const s = buildSpec(input({ capAdd: ['sys_ptrace'], capDrop: ['NET_RAW', 'cap_mknod'] }))
    expect(s.process.capabilities.effective).toContain('CAP_SYS_PTRACE')
    expect(s.process.capabilities.effective).not.toContain('CAP_NET_RAW')
    expect(s.process.capabilities.effective).not.toContain('CAP_MKNOD')
    expect(buildSpec(input({ capDrop: ['ALL'] })).process.capabilities.bounding).toEqual([])
  })
  it('caps rlimits at the host hard limit and honours read-only rootfs and hostname', () => {
    const s = buildSpec(input({ readonlyRootfs: true, hostname: 'web' }))
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }])
    expect(s.root).toEqual({ path: '/r', readonly: true })
    expect(s.hostname).toBe('web')
  })
  it('bind mounts volumes read-only when asked', () => {
    const s = buildSpec(input({ mounts: [{ source: '/data', destination: '/mnt', readonly: true }] }))
    expect(s.mounts.at(-1)).toEqual({ destination: '/mnt', type: 'bind', source: '/data', options: ['rbind', 'rprivate', 'ro'] })
  })
})

describe('process', () => {
  it('takes argv, env and cwd as given, adding HOME from the user when the env has none (runc\'s rule)', () => {
    const s = buildSpec(input({ process: { args: ['/ep', 'a'], env: ['PATH=/bin'], cwd: '/w' }, user: { uid: 1, gid: 2, additionalGids: [3], home: '/home/u' } }))
    expect(s.process).toMatchObject({ args: ['/ep', 'a'], env: ['PATH=/bin', 'HOME=/home/u'], cwd: '/w', user: { uid: 1, gid: 2, additionalGids: [3] } })
    expect(withHome(['HOME=/mine'], '/root')).toEqual(['HOME=/mine'])
  })
  it('refuses to run nothing', () => {
    expect(() => buildSpec(input({ process: { args: [], env: [], cwd: '/' } }))).toThrow(expect.objectContaining({ code: 'NO_COMMAND' }))
  })
})

describe('resolveUser', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n'
  const group = 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\nvideo:x:44:app\n'
  it.each([
    [undefined, { uid: 0, gid: 0 }],
    ['nobody', { uid: 65534, gid: 65534, home: '/nonexistent' }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [44] }],
    ['1000', { uid: 1000, gid: 1000 }],
    ['4242', { uid: 4242, gid: 0 }],
    ['4242:77', { uid: 4242, gid: 77 }],
    ['app:nogroup', { uid: 1000, gid: 65534 }],
  ])('%s → %j', (spec, want) => expect(resolveUser(spec, passwd, group)).toMatchObject(want))
  it('names an unknown user or group', () => {
    expect(() => resolveUser('ghost', passwd, group)).toThrow(expect.objectContaining({ code: 'UNKNOWN_USER', extra: { field: 'user' } }))
    expect(() => resolveUser('app:ghosts', passwd, group)).toThrow(/ghosts/)
  })
})

describe('cgroups', () => {
  it('detects unified, hybrid and legacy hierarchies', () => {
    const d = mkdtempSync(join(tmpdir(), 'cg-'))
    expect(detectCgroupMode(d)).toBe('legacy')
    mkdirSync(join(d, 'unified'))
    writeFileSync(join(d, 'unified/cgroup.controllers'), '')
    expect(detectCgroupMode(d)).toBe('hybrid')
    writeFileSync(join(d, 'cgroup.controllers'), 'cpu memory pids')
    expect(detectCgroupMode(d)).toBe('unified')
    expect(cgroupDirs('unified', '/skiff/j', d).memory).toBe(join(d, 'skiff/j'))
    expect(cgroupDirs('hybrid', '/skiff/j', d).memory).toBe(join(d, 'memory/skiff/j'))
    rmSync(d, { recursive: true, force: true })
  })
  it('reads v2 usage and OOM', () => {
    expect(usageFromV2({ cpuStat: 'usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\n', memoryEvents: 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n', memoryPeak: '1048576\n' }))
      .toEqual({ cpuUserMs: 2, cpuSysMs: 1, memoryPeakBytes: 1048576, oomKilled: true })
  })
  it('reads v1 usage (ns counters first, ticks as fallback) and OOM', () => {
    expect(usageFromV1({ usageUser: '5000000\n', usageSys: '2000000\n', maxUsage: '4096\n', oomControl: 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n' }))
      .toEqual({ cpuUserMs: 5, cpuSysMs: 2, memoryPeakBytes: 4096, oomKilled: false })
    expect(usageFromV1({ cpuacctStat: 'user 7\nsystem 3\n', oomControl: 'oom_kill 2' })).toMatchObject({ cpuUserMs: 70, cpuSysMs: 30, oomKilled: true })
    expect(parseKeyValues('a 1\nb x\n c 3')).toEqual({ a: 1, c: 3 })
  })
})

describe('small rules', () => {
  it.each([[0, 0, null], [3, 3, null], [137, null, 'SIGKILL'], [143, null, 'SIGTERM'], [255, 255, null]] as const)('exit file %d → code %s signal %s', (raw, code, sig) => {
    expect(decodeExit(raw)).toEqual({ exitCode: code, signal: sig })
  })
  it('overlay options list lower dirs top first and refuse separators in paths', () => {
    expect(overlayOptions(['/top', '/base'], '/u', '/w')).toBe('lowerdir=/top:/base,upperdir=/u,workdir=/w,index=off')
    expect(() => overlayOptions(['/a:b'], '/u', '/w')).toThrow()
    expect(() => overlayOptions([], '/u', '/w')).toThrow(expect.objectContaining({ code: 'NO_LAYERS' }))
  })
  it('parses the host hard limits', () => {
    expect(parseHostLimits('Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 20000                files\n')).toEqual({ RLIMIT_NOFILE: 20000 })
  })
  it('doctor names the hybrid hugetlb fix', () => {
    const facts: HostFacts = { cgroupMode: 'hybrid', hugetlbMounted: false, hugetlbAvailable: true, favorDynmods: false, overlay: true, binaries: { crun: '/usr/bin/crun', conmon: undefined }, capEff: (1n << 21n), cniPlugins: [], uid: 0 }
    const f = evaluate(facts)
    expect(f.find((x) => x.check === 'hybrid-hugetlb')).toMatchObject({ ok: false, fix: expect.stringContaining('mount -t cgroup -o hugetlb') })
    expect(f.find((x) => x.check === 'conmon')).toMatchObject({ ok: false, fix: 'apt-get install conmon' })
    expect(f.find((x) => x.check === 'cap-sys-resource')).toMatchObject({ ok: false, severity: 'warn' })
  })
})
