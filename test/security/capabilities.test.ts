import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../helpers/daemon.js'

// Real jobs under crun: the default capability set is Podman's (no NET_RAW, MKNOD,
// AUDIT_WRITE); capAdd beyond it needs the daemon's allowedCapabilities.
const daemon = useBusyboxDaemon({ env: { SKIFF_ALLOWED_CAPABILITIES: 'NET_RAW,sys_ptrace' } })
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const run = async (body: Record<string, unknown>) => (await d.api('POST', '/run?wait=true', { image: 'busybox', ...body })).json
const capEff = (stdout: string) => BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(stdout)![1])
const bit = (n: number) => 1n << BigInt(n)
// linux/capability.h numbers
const CAP = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, SETPCAP: 8, NET_BIND_SERVICE: 10, NET_RAW: 13, SYS_CHROOT: 18, SYS_PTRACE: 19, MKNOD: 27, AUDIT_WRITE: 29, SETFCAP: 31 }

describe('capabilities', () => {
  it('a default job has exactly Podman\'s set: no NET_RAW, MKNOD or AUDIT_WRITE', async () => {
    const r = await run({ cmd: ['grep', 'CapEff', '/proc/self/status'] })
    expect(r.exitCode).toBe(0)
    const want = [CAP.CHOWN, CAP.DAC_OVERRIDE, CAP.FOWNER, CAP.FSETID, CAP.KILL, CAP.SETGID, CAP.SETUID, CAP.SETPCAP, CAP.NET_BIND_SERVICE, CAP.SYS_CHROOT, CAP.SETFCAP].reduce((a, n) => a | bit(n), 0n)
    expect(capEff(r.stdout).toString(16)).toBe(want.toString(16))
  })

  it('a default job cannot open a raw socket: ping in its own netns fails with EPERM', async () => {
    const r = await run({ cmd: ['ping', '-c', '1', '-W', '2', '127.0.0.1'] })
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr).toMatch(/permission denied|Operation not permitted/i)
  })

  it('with an allowed capAdd NET_RAW the same ping gets its reply', async () => {
    const r = await run({ capAdd: ['NET_RAW'], cmd: ['ping', '-c', '1', '-W', '5', '127.0.0.1'] })
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/1 packets received/)
    expect(r.exitCode).toBe(0)
  })

  it('capAdd beyond the default and the allow-list is 403 naming the capability, and creates no job', async () => {
    const before = (await d.api('GET', '/jobs?limit=1000')).json.items.length
    const r = await d.api('POST', '/run', { image: 'busybox', capAdd: ['NET_RAW', 'SYS_ADMIN'], cmd: ['true'] })
    expect(r.status).toBe(403)
    expect(r.json.error).toMatchObject({ code: 'CAPABILITY_NOT_ALLOWED', field: 'capAdd' })
    expect(r.json.error.message).toContain('CAP_SYS_ADMIN')
    expect((await d.api('GET', '/jobs?limit=1000')).json.items.length).toBe(before)
  })

  it('an unknown capability is 400 naming the entry', async () => {
    const r = await d.api('POST', '/run', { image: 'busybox', capDrop: ['CHOWN', 'NET_FLY'], cmd: ['true'] })
    expect(r.status).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'capDrop.1' })
  })

  it('capDrop removes from the default (and ALL empties it); re-adding a default capability needs no opt-in', async () => {
    const dropped = await run({ capDrop: ['chown', 'CAP_KILL'], cmd: ['grep', 'CapEff', '/proc/self/status'] })
    expect(capEff(dropped.stdout) & (bit(CAP.CHOWN) | bit(CAP.KILL))).toBe(0n)
    expect(capEff(dropped.stdout) & bit(CAP.SETUID)).toBe(bit(CAP.SETUID))
    const none = await run({ capDrop: ['ALL'], capAdd: ['SETUID'], cmd: ['grep', 'CapEff', '/proc/self/status'] })
    expect(capEff(none.stdout)).toBe(bit(CAP.SETUID))
    // without CAP_CHOWN root in the job cannot chown
    const chown = await run({ capDrop: ['CHOWN'], cmd: ['sh', '-c', 'touch /tmp/f && chown 1:1 /tmp/f'] })
    expect(chown.exitCode).not.toBe(0)
  })

  it('an allowed SYS_PTRACE is granted (and the seccomp profile opens ptrace with it: unit spec test)', async () => {
    const without = await run({ cmd: ['sh', '-c', 'grep CapEff /proc/self/status'] })
    expect(capEff(without.stdout) & bit(CAP.SYS_PTRACE)).toBe(0n)
    const granted = await run({ capAdd: ['SYS_PTRACE'], cmd: ['sh', '-c', 'grep CapEff /proc/self/status'] })
    expect(capEff(granted.stdout) & bit(CAP.SYS_PTRACE)).toBe(bit(CAP.SYS_PTRACE))
  })
})

describe('skiff run --cap-add / --cap-drop', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/skiff.js'), ...args], { env: { ...process.env, SKIFF_SOCKET: d.socket, SKIFF_HOST: '', SKIFF_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      c.stdout.on('data', (b) => (stdout += b))
      c.stderr.on('data', (b) => (stderr += b))
      c.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  it('pass the flags through; a refused capability is one line naming it', async () => {
    const ok = await cli(['run', '--rm', '--cap-drop', 'ALL', '--cap-add', 'SETUID', 'busybox', 'grep', 'CapEff', '/proc/self/status'])
    expect(ok.code).toBe(0)
    expect(capEff(ok.stdout)).toBe(bit(CAP.SETUID))
    const refused = await cli(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'true'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('CAP_SYS_ADMIN')
  })
})
