import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'
import { cgroupDirs, detectCgroupMode } from '../../src/runtime/cgroups/detect.js'
import { createRuntime, type ContainerSpec, type ExitStatus, type Runtime } from '../../src/runtime/index.js'
import { waitFor } from '../helpers/wait.js'

/** A one-layer busybox rootfs from the host's static /bin/busybox: one symlink per
 *  applet, root and nobody (65534) in /etc/passwd, their groups in /etc/group. */
export function makeBusyboxRootfs(root: string): void {
  mkdirSync(join(root, 'bin'), { recursive: true })
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'))
  chmodSync(join(root, 'bin/busybox'), 0o755)
  for (const applet of execFileSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    const p = join(root, applet)
    if (applet === 'bin/busybox' || applet === 'linuxrc' || existsSync(p)) continue
    mkdirSync(dirname(p), { recursive: true })
    symlinkSync('/bin/busybox', p)
  }
  for (const d of ['etc', 'root', 'tmp', 'proc', 'sys', 'dev', 'run', 'var']) mkdirSync(join(root, d), { recursive: true })
  chmodSync(join(root, 'tmp'), 0o1777)
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n')
}

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The runtime's behaviour, the same for every OCI runtime skiff drives. */
export function runtimeContract(name: 'crun' | 'runc') {
  describe(`runtime: ${name}`, () => {
    let dir: string
    let rootfs: string
    let rt: Runtime
    let n = 0

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), `skiff-rt-${name}-`))
      rootfs = join(dir, 'busybox')
      makeBusyboxRootfs(rootfs)
      rt = createRuntime({ root: join(dir, 'rt'), runtime: name })
    })
    afterAll(async () => {
      // containers of a test that failed before its remove(): remove them (and their cgroups) now
      for (const id of rt ? await rt.list() : []) await (await rt.adopt(id).catch(() => undefined))?.remove().catch(() => {})
      rt?.close()
      const left = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir))
      for (const m of left.reverse()) execFileSync('umount', ['-l', m!])
      rmSync(dir, { recursive: true, force: true })
    })

    type Over = Partial<Omit<ContainerSpec, 'process' | 'rootfs'>> & { process?: Partial<ContainerSpec['process']>; rootfs?: Partial<ContainerSpec['rootfs']> }
    const spec = (args: string[], o: Over = {}): ContainerSpec => {
      const id = `${name}-${process.pid}-${n++}`
      const { process: p, rootfs: r, ...rest } = o
      return {
        id, rootfs: { lowerDirs: [rootfs], ...r }, process: { args, env: [PATH], cwd: '/', ...p }, hostname: id, limits: {}, network: { mode: 'none' }, mounts: [],
        logPath: join(dir, `${id}.log`), ...rest,
      }
    }
    /** stdout and stderr from conmon's k8s-file log */
    const output = (logPath: string) => {
      const out = { stdout: '', stderr: '' }
      if (!existsSync(logPath)) return out
      for (const line of readFileSync(logPath, 'utf8').split('\n')) {
        const m = /^\S+ (stdout|stderr) (F|P) (.*)$/.exec(line)
        if (m) out[m[1] as 'stdout' | 'stderr'] += m[3] + (m[2] === 'F' ? '\n' : '')
      }
      return out
    }
    const run = async (cmd: string[], o: Over = {}): Promise<ExitStatus & { stdout: string; stderr: string; id: string }> => {
      const s = spec(cmd, o)
      const c = await rt.create(s)
      await c.start()
      const exit = await c.wait()
      await c.remove()
      return { ...exit, ...output(s.logPath), id: s.id }
    }
    const sh = (script: string, o: Over = {}) => run(['sh', '-c', script], o)

    it('runs echo: exit 0 and the output in the log', async () => {
      const r = await run(['echo', 'hello'])
      expect(r).toMatchObject({ exitCode: 0, signal: null, oomKilled: false, timedOut: false, stdout: 'hello\n' })
      expect(r.usage.wallMs).toBeGreaterThanOrEqual(0)
    })

    it('reports exit 3 and stderr', async () => {
      expect(await sh('echo oops >&2; exit 3')).toMatchObject({ exitCode: 3, stderr: 'oops\n' })
    })

    it('reports SIGKILL when killed', async () => {
      const c = await rt.create(spec(['sleep', '100']))
      await c.start()
      await c.kill('SIGKILL')
      expect(await c.wait()).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: false })
      await c.remove()
    })

    it('isolates: pid 1, own hostname, no host processes, masked /proc paths, only lo', async () => {
      // /proc/kcore where the kernel has it; this VM's kernel has none, /proc/keys stands in
      const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list'].find((p) => existsSync(p))!
      const r = await sh(`echo $$; hostname; ls /proc | grep -c "^[0-9]"; cat ${masked} | wc -c; grep -c : /proc/net/dev; grep -o "^ *[a-z0-9]*:" /proc/net/dev | tr -d " :"`, { hostname: 'job-host' })
      const [pid, host, procs, kcore, ifaces, ifname] = r.stdout.trim().split('\n')
      expect(pid).toBe('1')
      expect(host).toBe('job-host')
      expect(Number(procs)).toBeLessThanOrEqual(4)
      expect(kcore).toBe('0')
      expect(ifaces).toBe('1')
      expect(ifname).toBe('lo')
    })

    it('every container gets the seccomp filter, also when crun reuses its compiled program', async () => {
      const probe = 'grep "^Seccomp:" /proc/self/status; unshare -U true; echo rc=$?'
      for (let i = 0; i < 3; i++) {
        const s = spec(['sh', '-c', probe])
        const c = await rt.create(s)
        const config = JSON.parse(readFileSync(join(dir, 'rt', 'containers', s.id, 'config.json'), 'utf8'))
        // crun: compiled by crun for the first container, handed back for the rest (runc compiles each time)
        if (i > 0) expect(config.annotations?.['run.oci.seccomp_bpf_data'] !== undefined).toBe(name === 'crun')
        await c.start()
        await c.wait()
        await c.remove()
        const out = output(s.logPath)
        expect(out.stdout).toMatch(/^Seccomp:\s+2\nrc=1\n$/) // 2 = filter mode; unshare refused
        expect(out.stderr).toMatch(/Operation not permitted/)
      }
    })

    it('a read-only rootfs refuses writes; a writable one keeps them out of the layer', async () => {
      const ro = await sh('touch /x', { rootfs: { readonly: true } })
      expect(ro.exitCode).not.toBe(0)
      expect((await sh('touch /x && echo ok')).stdout).toBe('ok\n')
      expect(existsSync(join(rootfs, 'x'))).toBe(false)
    })

    it('a caller-owned writable layer outlives its container and carries over to the next (ids like <job>.<n>)', async () => {
      const layerDir = join(dir, `layer-${n}`)
      const job = `job${process.pid}x${n}`
      const first = await sh('echo kept > /state; cat /state', { id: `${job}.1`, rootfs: { lowerDirs: [rootfs], layerDir } })
      expect(first).toMatchObject({ exitCode: 0, stdout: 'kept\n', id: `${job}.1` })
      expectNoTrace(`${job}.1`)
      expect(readFileSync(join(layerDir, 'upper', 'state'), 'utf8')).toBe('kept\n')
      const second = await sh('cat /state', { id: `${job}.2`, rootfs: { lowerDirs: [rootfs], layerDir } })
      expect(second).toMatchObject({ exitCode: 0, stdout: 'kept\n' })
      // a fresh layer (the default) does not see it, and the image layer never got it
      expect((await sh('cat /state')).exitCode).not.toBe(0)
      expect(existsSync(join(rootfs, 'state'))).toBe(false)
    })

    it('every container gets /etc/hostname and an /etc/hosts with localhost and its own names; localhost reaches a server inside', async () => {
      // read-only rootfs: the files are bound in all the same (the server's docroot is on /dev/shm)
      const script = 'mkdir /dev/shm/www; echo hi > /dev/shm/www/index.html; httpd -p 8080 -h /dev/shm/www; wget -q -O- http://localhost:8080/; wget -q -O- http://my-job:8080/; cat /etc/hostname; cat /etc/hosts'
      const r = await sh(script, { hostname: 'web', aliases: ['my-job'], rootfs: { lowerDirs: [rootfs], readonly: true } })
      expect(r.stderr).toBe('')
      const lines = r.stdout.split('\n')
      expect(lines.slice(0, 3)).toEqual(['hi', 'hi', 'web'])
      expect(r.stdout).toMatch(/^127\.0\.0\.1\tlocalhost$/m)
      expect(r.stdout).toMatch(/^127\.0\.1\.1\tweb my-job$/m)
      // the image's files are untouched
      expect(readdirSync(join(rootfs, 'etc')).sort()).toEqual(['group', 'passwd'])
    })

    it('a host-network container gets the host\'s resolv.conf and reaches a host server on localhost', async () => {
      const srv = createServer((_q, res) => res.end('from host\n'))
      await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok))
      const port = (srv.address() as AddressInfo).port
      try {
        const r = await sh(`wget -q -O- http://localhost:${port}/; cat /etc/resolv.conf; cat /etc/hostname`, { hostname: 'hostjob', network: { mode: 'host' } })
        expect(r).toMatchObject({ exitCode: 0, stderr: '' })
        expect(r.stdout).toBe(`from host\n${readFileSync('/etc/resolv.conf', 'utf8').split('\n').filter((l) => l.trim()).join('\n')}\nhostjob\n`)
      } finally {
        srv.close()
      }
    })

    it('runs as another user, with env and cwd', async () => {
      const r = await run(['sh', '-c', 'id -u; id -g; echo $GREETING; pwd'], { process: { env: [PATH, 'GREETING=hi'], cwd: '/tmp', user: 'nobody' } })
      expect(r.stdout).toBe('65534\n65534\nhi\n/tmp\n')
      const n2 = await run(['id', '-u'], { process: { user: '65534:65534' } })
      expect(n2.stdout).toBe('65534\n')
      const n3 = await run(['sh', '-c', 'id -u; id -g'], { process: { user: '1234:5678' } })
      expect(n3.stdout).toBe('1234\n5678\n')
    })

    it('feeds stdin data, then EOF', async () => {
      const r = await run(['cat'], { process: { stdin: Buffer.from('hello\nstdin\n') } })
      expect(r).toMatchObject({ exitCode: 0, stdout: 'hello\nstdin\n' })
      // without stdin data the job reads EOF at once rather than hanging
      expect(await run(['wc', '-c'])).toMatchObject({ exitCode: 0, stdout: '0\n' })
    })

    it('an open stdin (interactive) takes writes in order, holds the job until EOF, and survives a reader that is slow', async () => {
      const s = spec(['sh', '-c', 'while read -r line; do echo "got $line"; done; echo eof'], { process: { openStdin: true } })
      const c = await rt.create(s)
      const stdin = c.openStdin()
      await c.start()
      await stdin.write(Buffer.from('one\n'))
      // read and answered, and still running: stdin is open
      await waitFor('the answer to the first line', () => output(s.logPath).stdout === 'got one\n')
      expect(existsSync(join(dir, 'rt', 'exits', s.id))).toBe(false)
      // more than the pipe and socket buffers hold, written before the job catches up
      const many = Array.from({ length: 20000 }, (_, i) => `n${i}`).join('\n') + '\n'
      await stdin.write(Buffer.from(many))
      await stdin.close()
      expect(await c.wait()).toMatchObject({ exitCode: 0 })
      const out = output(s.logPath).stdout.split('\n')
      expect(out[0]).toBe('got one')
      expect(out[1]).toBe('got n0')
      expect(out[20000]).toBe('got n19999')
      expect(out[20001]).toBe('eof')
      await expect(stdin.write(Buffer.from('late'))).rejects.toMatchObject({ code: 'STDIN_CLOSED' })
      await c.remove()
    })

    it('writing to the stdin of an exited job fails with STDIN_CLOSED, and a job without an open stdin refuses to attach', async () => {
      const s = spec(['true'], { process: { openStdin: true } })
      const c = await rt.create(s)
      const stdin = c.openStdin()
      await c.start()
      await c.wait()
      // the exit file may be written a moment before conmon drops our socket: refused from then on
      const refused = await waitFor('a refused write', () => stdin.write(Buffer.alloc(200_000)).then(() => false, (e: unknown) => e))
      expect(refused).toMatchObject({ code: 'STDIN_CLOSED' })
      await expect(stdin.write(Buffer.from('x'))).rejects.toMatchObject({ code: 'STDIN_CLOSED' })
      await c.remove()
      const plain = await rt.create(spec(['true']))
      expect(() => plain.openStdin()).toThrow(expect.objectContaining({ code: 'STDIN_UNAVAILABLE' }))
      await plain.remove()
    })

    it('a memory limit ends in oomKilled', async () => {
      const r = await sh('x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo ${#x}', { limits: { memoryBytes: 64 * 1024 * 1024 } })
      expect(r.oomKilled).toBe(true)
      expect(r.usage.memoryPeakBytes).toBeGreaterThan(32 * 1024 * 1024)
      expect(r.usage.memoryPeakBytes).toBeLessThanOrEqual(64 * 1024 * 1024 + 4096)
    })

    it('a pids limit contains a fork bomb', async () => {
      const t0 = Date.now()
      // pid 1 starts the bomb in the background, then becomes `sleep 3` (exec: no fork needed).
      // Every bomb process forks two more and then becomes a `sleep 5`, so the bomb
      // stays pressed against the limit instead of dying out as forks fail.
      // pid 1 holds the bomb until its stdin closes (read is a builtin: no pid needed), not for a time.
      const s = spec(['sh', '-c', "sh -c 'b() { b & b & exec sleep 30; }; b' & read -r x; exit 0"], { limits: { pids: 64 } })
      s.process.openStdin = true
      const c = await rt.create(s)
      const stdin = c.openStdin()
      await c.start()
      // while it runs: held at the limit, and the host still spawns
      const pids = cgroupDirs(detectCgroupMode(), `/skiff/${s.id}`).pids
      const current = () => Number(readFileSync(join(pids, 'pids.current'), 'utf8'))
      await waitFor('a fork refused at the limit', () => /can't fork|resource temporarily unavailable/i.test(output(s.logPath).stderr), { timeoutMs: 25_000 })
      expect(current()).toBeGreaterThan(32) // the bomb is really there, pressing on the limit
      expect(current()).toBeLessThanOrEqual(64)
      const t1 = performance.now()
      execFileSync('true')
      expect(performance.now() - t1).toBeLessThan(5000)
      await stdin.close()
      const exit = await c.wait()
      await c.remove()
      const r = { ...exit, ...output(s.logPath), id: s.id }
      expect(r.stderr).toMatch(/can't fork|resource temporarily unavailable/i)
      expect(r).toMatchObject({ exitCode: 0, signal: null }) // the job itself was unharmed
      expect(Date.now() - t0).toBeLessThan(55_000)
      // and the stragglers' cgroup is gone with the container
      for (const c of ['pids', 'memory', 'unified', '']) expect(existsSync(join('/sys/fs/cgroup', c, 'skiff', r.id))).toBe(false)
    }, 60_000)

    it('a timeout kills the job in about that time and says so', async () => {
      const t0 = Date.now()
      const r = await run(['sleep', '100'], { limits: { timeoutMs: 2000 } })
      const took = Date.now() - t0
      expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: null, oomKilled: false })
      // not before the limit; well before `sleep 100` would end (the margin is for slow machines)
      expect(took).toBeGreaterThanOrEqual(2000)
      expect(took).toBeLessThan(20_000)
      expect(r.usage.wallMs).toBeGreaterThanOrEqual(1990)
      expect(r.usage.wallMs).toBeLessThan(20_000)
    })

    it('cpus 0.5 holds a busy loop to half a core', async () => {
      const s = spec(['sh', '-c', 'yes > /dev/null'], { limits: { cpus: 0.5, timeoutMs: 2000 } })
      const c = await rt.create(s)
      await c.start()
      // the limit as the kernel holds it: quota/period 50000/100000, whatever the host's load
      const mode = detectCgroupMode()
      const cpuDir = mode === 'unified' ? cgroupDirs(mode, `/skiff/${s.id}`).cpu : join('/sys/fs/cgroup/cpu', 'skiff', s.id)
      const quota = mode === 'unified'
        ? readFileSync(join(cpuDir, 'cpu.max'), 'utf8').trim()
        : `${readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()} ${readFileSync(join(cpuDir, 'cpu.cfs_period_us'), 'utf8').trim()}`
      expect(quota).toBe('50000 100000')
      const exit = await c.wait()
      await c.remove()
      const share = (exit.usage.cpuUserMs + exit.usage.cpuSysMs) / exit.usage.wallMs
      expect(exit.timedOut).toBe(true)
      // never above the quota; a busy host may give it less, so no lower bound but "it ran"
      expect(share).toBeGreaterThan(0)
      expect(share).toBeLessThan(0.65)
    })

    it('execs into a running container', async () => {
      const c = await rt.create(spec(['sleep', '100']))
      await c.start()
      // start returns once init is released (as `crun start` does), maybe before it has exec'd sleep
      const r = await c.exec(['sh', '-c', 'for i in $(seq 100); do grep -q sleep /proc/1/cmdline && break; usleep 10000; done; echo $$ in; cat /proc/1/cmdline'], {})
      expect(r).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^\d+ in\nsleep/) })
      expect(r.stdout.startsWith('1 ')).toBe(false) // a new process in the job's pid namespace, not its pid 1
      await c.kill()
      await c.wait()
      await c.remove()
    })

    /** Nothing of container `id` left on the host: asserted after remove() and after a failed create. */
    const expectNoTrace = (id: string) => {
      const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')
      expect(mountinfo).not.toContain(id)
      // every v1 controller this host has, and the v2 tree (hybrid: unified/)
      const cg = cgroupDirs(detectCgroupMode(), `/skiff/${id}`)
      for (const d of [...cg.all, join('/sys/fs/cgroup', 'skiff', id)]) expect(existsSync(d), d).toBe(false)
      const listed = execFileSync(name, [`--root=${join(dir, 'rt', 'state')}`, 'list', '--format', 'json'], { encoding: 'utf8' })
      expect((JSON.parse(listed.trim() || '[]') ?? []).map((c: { id: string }) => c.id)).not.toContain(id)
      expect(readdirSync(join(dir, 'rt', 'containers'))).not.toContain(id)
      expect(existsSync(join(dir, 'rt', 'state', id))).toBe(false)
      expect(existsSync(join(dir, 'rt', 'exits', id))).toBe(false)
      expect(readdirSync(join(dir, 'rt', 'sockets'))).not.toContain(id)
    }

    it('remove leaves no mount, cgroup, runtime state or directory behind', async () => {
      const r = await sh('true', { limits: { memoryBytes: 32 * 1024 * 1024, pids: 10, cpus: 1 } })
      expectNoTrace(r.id)
      // nor an open copy of the runtime binary (crun runs from a one-use copy per create)
      const copies = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).includes('.runtime-')
        } catch {
          return false
        }
      })
      expect(copies).toEqual([])
      // also for a container removed while it still runs
      const s = spec(['sleep', '100'], { limits: { memoryBytes: 32 * 1024 * 1024, pids: 10 } })
      const c = await rt.create(s)
      await c.start()
      await c.remove()
      expectNoTrace(s.id)
    })

    it('a command missing from the image is the caller\'s error, names it, and leaves nothing behind', async () => {
      for (const cmd of ['no-such-cmd', '/bin/no-such-cmd']) {
        const s = spec([cmd, 'arg'])
        await expect(rt.create(s)).rejects.toMatchObject({ kind: 'invalid_argument', code: 'EXECUTABLE_NOT_FOUND', extra: { field: 'cmd' }, message: expect.stringContaining(JSON.stringify(cmd)) })
        expectNoTrace(s.id)
      }
      const s = spec(['/etc'])
      await expect(rt.create(s)).rejects.toMatchObject({ code: 'EXECUTABLE_NOT_RUNNABLE' })
      expectNoTrace(s.id)
    })

    /** Create and start a container from a separate `npx tsx` process that exits right after. */
    const createElsewhere = (s: ContainerSpec) => {
      const script = join(dir, `${s.id}.mts`)
      writeFileSync(script, `
        import { createRuntime } from ${JSON.stringify(join(PACKAGE_ROOT, 'src/runtime/index.ts'))}
        const rt = createRuntime({ root: ${JSON.stringify(join(dir, 'rt'))}, runtime: ${JSON.stringify(name)} })
        const c = await rt.create(${JSON.stringify(s)})
        await c.start()
        console.log(c.pid)
        process.exit(0)`)
      const t0 = Date.now()
      const pid = Number(execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).trim())
      return { pid, t0 }
    }
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }

    it('the container outlives the process that created it, and is adopted with its real exit', async () => {
      // held until we release it (exec touch), however long the creator took
      const s = spec(['sh', '-c', 'while [ ! -f /tmp/go ]; do usleep 10000; done; exit 7'])
      const { pid, t0 } = createElsewhere(s)
      const created = Date.now()
      // the creator is gone; the job is not
      expect(alive(pid)).toBe(true)
      const state = JSON.parse(execFileSync(name, [`--root=${join(dir, 'rt', 'state')}`, 'state', s.id], { encoding: 'utf8' }))
      expect(state).toMatchObject({ status: 'running', pid })
      const c = await rt.adopt(s.id)
      expect(c).toBeDefined()
      expect(c!.pid).toBe(pid)
      expect(await c!.exec(['touch', '/tmp/go'])).toMatchObject({ exitCode: 0 })
      const released = Date.now()
      const exit = await c!.wait()
      expect(exit).toMatchObject({ exitCode: 7, signal: null, timedOut: false })
      // wall time counts from the start the creator recorded (between t0 and its return), not from the adoption
      expect(exit.usage.wallMs).toBeGreaterThanOrEqual(released - created)
      expect(exit.usage.wallMs).toBeLessThanOrEqual(Date.now() - t0 + 50)
      await c!.remove()
      expectNoTrace(s.id)
      expect(await rt.adopt(s.id)).toBeUndefined()
    }, 30_000)

    it('a created, never started container adopted only to be removed never runs its process', async () => {
      const s = spec(['sh', '-c', 'echo ran'])
      const created = await rt.create(s)
      const c = await rt.adopt(s.id, { start: false })
      expect(c).toBeDefined()
      await c!.remove()
      await created.remove()
      expect(output(s.logPath).stdout).toBe('')
      expectNoTrace(s.id)
    })

    it('a container that exited while nobody watched is adopted with its recorded exit', async () => {
      const s = spec(['sh', '-c', 'echo bye; exit 5'])
      createElsewhere(s)
      await waitFor('the exit file', () => existsSync(join(dir, 'rt', 'exits', s.id)))
      const c = await rt.adopt(s.id)
      expect(await c!.wait()).toMatchObject({ exitCode: 5, timedOut: false })
      expect(output(s.logPath).stdout).toBe('bye\n')
      await c!.remove()
      expectNoTrace(s.id)
    }, 30_000)

    it('the timeout is re-armed from the recorded start after adoption', async () => {
      // conmon's -T backstop would fire at ceil(8)+2 = 10 s: an end near 8 s (or at the
      // adoption, if the creator was slower than that) is skiff's re-armed timer
      const s = spec(['sleep', '100'], { limits: { timeoutMs: 8000 } })
      const { t0 } = createElsewhere(s)
      const adoptedAfter = Date.now() - t0
      const c = await rt.adopt(s.id)
      const exit = await c!.wait()
      expect(exit).toMatchObject({ timedOut: true, signal: 'SIGKILL' })
      // wall time counts from the start the creator recorded, whatever npx's own startup cost
      expect(exit.usage.wallMs).toBeGreaterThanOrEqual(7990)
      expect(adoptedAfter, 'the creator took longer than conmon\'s backstop: nothing left to re-arm').toBeLessThan(10_000)
      expect(exit.usage.wallMs).toBeLessThan(Math.max(8000, adoptedAfter) + 1500)
      await c!.remove()
      expectNoTrace(s.id)
    }, 30_000)
  })
}
