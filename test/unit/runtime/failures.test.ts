import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { removeCgroups } from '../../../src/runtime/container.js'
import { evaluate, type HostFacts } from '../../../src/runtime/doctor.js'
import { createFailed, runtimeMessage } from '../../../src/runtime/errors.js'
import { ExitWatcher } from '../../../src/runtime/exit-watcher.js'
import { conmonArgs } from '../../../src/runtime/monitor.js'
import { SeccompCache } from '../../../src/runtime/seccomp-cache.js'
import { defaultSeccomp } from '../../../src/runtime/seccomp.js'

let tmp: string
beforeAll(() => void (tmp = mkdtempSync(join(tmpdir(), 'skiff-rt-unit-'))))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

// Messages as crun 1.x and runc 1.1 print them on conmon's sync pipe (copied from real runs).
const runc = (msg: string) => `time="2026-11-28T21:46:59Z" level=error msg="runc create failed: unable to start container process: ${msg.replace(/"/g, '\\"')}"\n`
describe('createFailed: the user\'s fault or ours', () => {
  it.each([
    ['crun, name', 'executable file `nope` not found in $PATH: No such file or directory\n', 'EXECUTABLE_NOT_FOUND', 'invalid_argument', '"nope"'],
    ['crun, path', 'executable file `/bin/nope` not found in $PATH: No such file or directory', 'EXECUTABLE_NOT_FOUND', 'invalid_argument', '"/bin/nope"'],
    ['runc, name', runc('exec: "nope": executable file not found in $PATH'), 'EXECUTABLE_NOT_FOUND', 'invalid_argument', '"nope"'],
    ['runc, path', runc('exec: "/nope": stat /nope: no such file or directory'), 'EXECUTABLE_NOT_FOUND', 'invalid_argument', '"/nope"'],
    ['crun, a directory', 'open executable: Operation not permitted\n', 'EXECUTABLE_NOT_RUNNABLE', 'invalid_argument', '"/etc"'],
    ['crun, no x bit', 'open executable: Permission denied', 'EXECUTABLE_NOT_RUNNABLE', 'invalid_argument', '"/etc"'],
    ['runc, no x bit', runc('exec: "/etc/passwd": permission denied'), 'EXECUTABLE_NOT_RUNNABLE', 'invalid_argument', '"/etc/passwd"'],
    // not about the command: ours, with the runtime's words
    ['crun, cgroup', 'mkdir `/sys/fs/cgroup/memory/skiff/x`: No space left on device', 'CONTAINER_CREATE_FAILED', 'internal', 'No space left on device'],
    ['crun, mount source', 'mount `/data/vol` to `/vol`: No such file or directory', 'CONTAINER_CREATE_FAILED', 'internal', '/data/vol'],
    ['runc, mount source', runc('error during container init: error mounting "/data/vol" to rootfs at "/vol": stat /data/vol: no such file or directory'), 'CONTAINER_CREATE_FAILED', 'internal', '/data/vol'],
    ['empty', '', 'CONTAINER_CREATE_FAILED', 'internal', 'gave no reason'],
  ])('%s → %s', (_what, raw, code, kind, named) => {
    const e = createFailed('job1', raw, '/etc')
    expect(e).toMatchObject({ code, kind })
    expect(e.message).toContain(named)
    if (kind === 'invalid_argument') expect(e.extra.field).toBe('cmd')
    else expect(e.message).toContain('job1')
  })
  it('strips runc\'s logrus framing and unescapes quotes', () => {
    expect(runtimeMessage(runc('exec: "x": boom'))).toBe('runc create failed: unable to start container process: exec: "x": boom')
    expect(runtimeMessage('plain crun words\n')).toBe('plain crun words')
  })
})

describe('conmonArgs', () => {
  const paths = { conmon: '/usr/bin/conmon', runtimePath: '/usr/bin/crun', runtimeArgs: ['--root=/s'], bundle: '/b', pidFile: '/b/p', conmonPidFile: '/b/cp', logPath: '/l/x.log', exitDir: '/e', socketDir: '/so' }
  it('logs k8s-file, records exits, persists in the bundle, no global sync, runtime args passed through', () => {
    const a = conmonArgs('job1', paths)
    const after = (flag: string) => a[a.indexOf(flag) + 1]
    expect(after('-l')).toBe('k8s-file:/l/x.log')
    expect(after('--exit-dir')).toBe('/e')
    expect(after('--persist-dir')).toBe('/b')
    expect(after('--runtime-arg')).toBe('--root=/s')
    expect(a).toContain('--no-sync-log')
    expect(a).not.toContain('-T')
    expect(a).not.toContain('-i')
  })
  it('adds the timeout backstop and stdin only when asked', () => {
    const a = conmonArgs('job1', paths, { timeoutSecs: 5, stdin: true })
    expect(a[a.indexOf('-T') + 1]).toBe('5')
    expect(a).toContain('-i')
  })
})

describe('ExitWatcher', () => {
  it('sees an exit written before and after the wait, with sub-ms time, and ignores a half-written file', async () => {
    const dir = join(tmp, 'exits')
    mkdirSync(dir)
    const w = new ExitWatcher(dir, 50)
    try {
      writeFileSync(join(dir, 'early'), '3')
      expect(await w.wait('early')).toMatchObject({ code: 3 })
      writeFileSync(join(dir, 'partial'), '')
      expect(await w.read('partial')).toBeUndefined()
      const later = w.wait('late')
      // conmon writes a temp file and renames it into place
      setTimeout(() => {
        writeFileSync(join(dir, '.late.tmp'), '137')
        renameSync(join(dir, '.late.tmp'), join(dir, 'late'))
      }, 20)
      const r = await later
      expect(r.code).toBe(137)
      expect(Math.abs(r.atMs - Date.now())).toBeLessThan(5000)
    } finally {
      w.close()
    }
  })
  it('an aborted wait rejects with the reason and leaves the others waiting', async () => {
    const dir = join(tmp, 'exits2')
    mkdirSync(dir)
    const w = new ExitWatcher(dir, 50)
    try {
      const ac = new AbortController()
      const a = w.wait('x', ac.signal)
      const b = w.wait('x')
      ac.abort(new Error('gave up'))
      await expect(a).rejects.toThrow('gave up')
      writeFileSync(join(dir, 'x'), '0')
      expect(await b).toMatchObject({ code: 0 })
    } finally {
      w.close()
    }
  })
})

describe('removeCgroups', () => {
  it('removes empty dirs, skips missing ones, reports what stays busy', async () => {
    const a = join(tmp, 'cg-a')
    const busy = join(tmp, 'cg-busy')
    mkdirSync(a)
    mkdirSync(join(busy, 'child'), { recursive: true }) // a non-empty dir stands in for EBUSY
    const left = await removeCgroups([a, join(tmp, 'cg-missing'), busy])
    expect(existsSync(a)).toBe(false)
    expect(left).toEqual([busy])
  }, 10_000)
})

describe('doctor evaluate', () => {
  const good: HostFacts = {
    cgroupMode: 'unified', hugetlbMounted: false, hugetlbAvailable: true, favorDynmods: true, overlay: true,
    binaries: { crun: '/usr/bin/crun', conmon: '/usr/bin/conmon', runc: '/usr/sbin/runc', runsc: undefined }, capEff: (1n << 21n) | (1n << 24n), cniPlugins: ['bridge', 'host-local', 'portmap', 'firewall', 'loopback'], uid: 0,
  }
  it('a good host has only the optional runsc missing, as a warning', () => {
    const bad = evaluate(good).filter((f) => !f.ok)
    expect(bad).toEqual([expect.objectContaining({ check: 'runsc', severity: 'warn', fix: expect.stringContaining('gVisor') })])
  })
  it.each([
    [{ uid: 1000 }, 'root', 'error'],
    [{ overlay: false }, 'overlayfs', 'error'],
    [{ binaries: { ...good.binaries, crun: undefined } }, 'crun', 'error'],
    [{ capEff: 'no CAP_SYS_RESOURCE' }, 'cap-sys-resource', 'warn'],
    [{ cniPlugins: [] }, 'cni', 'warn'],
    [{ cniPlugins: ['bridge', 'host-local', 'firewall'] }, 'cni', 'warn'],
    [{ favorDynmods: false }, 'cgroup-favordynmods', 'warn'],
  ] as const)('%j → %s fails (%s) with a fix', (patch, check, severity) => {
    const facts = { ...good, ...patch, ...('capEff' in patch ? { capEff: 1n << 21n } : {}) } as HostFacts
    const f = evaluate(facts).find((x) => x.check === check)
    expect(f).toMatchObject({ ok: false, severity, fix: expect.any(String) })
  })
  it('no hugetlb finding on a unified host or once it is mounted', () => {
    expect(evaluate(good).find((f) => f.check === 'hybrid-hugetlb')).toBeUndefined()
    expect(evaluate({ ...good, cgroupMode: 'hybrid', hugetlbMounted: true }).find((f) => f.check === 'hybrid-hugetlb')).toMatchObject({ ok: true })
  })
})

describe('SeccompCache', () => {
  const profile = defaultSeccomp()
  it('hands back the program crun compiled for the same profile and runtime only', async () => {
    const state = join(tmp, 'state-a')
    mkdirSync(state)
    const prog = Buffer.alloc(8 * 5, 7)
    writeFileSync(join(state, 'seccomp.bpf'), prog)
    const cache = new SeccompCache('/usr/bin/crun')
    expect(cache.get(profile)).toBeUndefined()
    await cache.learn(profile, state)
    expect(cache.get(profile)).toBe(prog.toString('base64'))
    expect(cache.get({ ...profile, defaultAction: 'SCMP_ACT_ERRNO' })).toBeUndefined()
    expect(new SeccompCache('/opt/crun').get(profile)).toBeUndefined()
  })
  it('ignores a missing or torn program', async () => {
    const state = join(tmp, 'state-b')
    mkdirSync(state)
    const cache = new SeccompCache('/usr/bin/crun')
    await cache.learn(profile, state)
    writeFileSync(join(state, 'seccomp.bpf'), Buffer.alloc(13))
    await cache.learn(profile, state)
    expect(cache.get(profile)).toBeUndefined()
  })
})
