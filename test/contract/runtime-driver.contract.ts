import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ImageRecord } from '../../src/images/types.js'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'
import { createRuntime, type ContainerSpec, type ExitStatus, type Runtime } from '../../src/runtime/index.js'

/** The runtime's behaviour, the same for every OCI runtime skiff drives. */
export function runtimeContract(name: 'crun' | 'runc') {
  describe(`runtime: ${name}`, () => {
    let dir: string
    let rootfs: string
    let rt: Runtime
    let n = 0
    const image: ImageRecord = {
      id: 'sha256:00', refs: [], manifestDigest: 'sha256:00', platform: { os: 'linux', architecture: 'amd64' },
      config: { Cmd: ['sh'] }, layers: [], size: 0, createdAt: new Date(0),
    }

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), `skiff-rt-${name}-`))
      rootfs = join(dir, 'busybox')
      mkdirSync(rootfs)
      execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), join(dir, 'bb.tar')])
      execFileSync('tar', ['-C', rootfs, '-xf', join(dir, 'bb.tar')])
      rt = createRuntime({ root: join(dir, 'rt'), runtime: name })
    })
    afterAll(() => {
      rt?.close()
      const left = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir))
      for (const m of left.reverse()) execFileSync('umount', ['-l', m!])
      rmSync(dir, { recursive: true, force: true })
    })

    const spec = (cmd: string[], o: Partial<ContainerSpec> = {}): ContainerSpec => {
      const id = `${name}-${process.pid}-${n++}`
      return {
        id, image, lowerDirs: [rootfs], process: { cmd, env: {} }, limits: {}, network: { mode: 'none', ports: [] }, mounts: [],
        logPath: join(dir, `${id}.log`), ...o,
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
    const run = async (cmd: string[], o: Partial<ContainerSpec> = {}): Promise<ExitStatus & { stdout: string; stderr: string; id: string }> => {
      const s = spec(cmd, o)
      const c = await rt.create(s)
      await c.start()
      const exit = await c.wait()
      await c.remove()
      return { ...exit, ...output(s.logPath), id: s.id }
    }
    const sh = (script: string, o: Partial<ContainerSpec> = {}) => run(['sh', '-c', script], o)

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

    it('a read-only rootfs refuses writes; a writable one keeps them out of the layer', async () => {
      const ro = await sh('touch /x', { readonlyRootfs: true })
      expect(ro.exitCode).not.toBe(0)
      expect((await sh('touch /x && echo ok')).stdout).toBe('ok\n')
      expect(existsSync(join(rootfs, 'x'))).toBe(false)
    })

    it('runs as another user, with env and cwd', async () => {
      const r = await run(['sh', '-c', 'id -u; id -g; echo $GREETING; pwd'], { process: { cmd: ['sh', '-c', 'id -u; id -g; echo $GREETING; pwd'], env: { GREETING: 'hi' }, cwd: '/tmp', user: 'nobody' } })
      expect(r.stdout).toBe('65534\n65534\nhi\n/tmp\n')
      const n2 = await run(['id', '-u'], { process: { cmd: ['id', '-u'], env: {}, user: '1234:5678' } })
      expect(n2.stdout).toBe('1234\n')
    })

    it('feeds stdin data, then EOF', async () => {
      const r = await run(['wc', '-c'], { process: { cmd: ['wc', '-c'], env: {}, stdin: Buffer.from('hello\n') } })
      expect(r.stdout.trim()).toBe('6')
    })

    it('a memory limit ends in oomKilled', async () => {
      const r = await sh('x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo ${#x}', { limits: { memoryBytes: 64 * 1024 * 1024 } })
      expect(r.oomKilled).toBe(true)
      expect(r.usage.memoryPeakBytes).toBeGreaterThan(32 * 1024 * 1024)
      expect(r.usage.memoryPeakBytes).toBeLessThanOrEqual(64 * 1024 * 1024 + 4096)
    })

    it('a pids limit contains a fork bomb', async () => {
      const t0 = Date.now()
      const r = await sh('for i in $(seq 300); do sleep 3 & done; echo all-started; wait', { limits: { pids: 64 } })
      expect(r.stderr).toMatch(/fork/i)
      expect(r.stdout).not.toContain('all-started')
      expect(Date.now() - t0).toBeLessThan(20_000)
      // the host is responsive: spawning works right away
      expect(execFileSync('true').length).toBe(0)
      // and the stragglers' cgroup is gone with the container
      for (const c of ['pids', 'memory', 'unified', '']) expect(existsSync(join('/sys/fs/cgroup', c, 'skiff', r.id))).toBe(false)
    }, 30_000)

    it('a timeout kills the job in about that time and says so', async () => {
      const t0 = Date.now()
      const r = await run(['sleep', '100'], { limits: { timeoutMs: 1500 } })
      const took = Date.now() - t0
      expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL' })
      expect(took).toBeGreaterThanOrEqual(1400)
      expect(took).toBeLessThan(5000)
    })

    it('cpus 0.5 holds a busy loop at about half a core', async () => {
      const r = await sh('yes > /dev/null', { limits: { cpus: 0.5, timeoutMs: 2000 } })
      const share = (r.usage.cpuUserMs + r.usage.cpuSysMs) / r.usage.wallMs
      expect(r.timedOut).toBe(true)
      expect(share).toBeGreaterThan(0.3)
      expect(share).toBeLessThan(0.65)
    })

    it('execs into a running container', async () => {
      const c = await rt.create(spec(['sleep', '100']))
      await c.start()
      const r = await c.exec(['sh', '-c', 'echo $$ in; cat /proc/1/cmdline'], {})
      expect(r.exitCode).toBe(0)
      expect(r.stdout).toMatch(/in\nsleep/)
      await c.kill()
      await c.wait()
      await c.remove()
    })

    it('remove leaves no mount, cgroup, runtime state or directory behind', async () => {
      const r = await sh('true', { limits: { memoryBytes: 32 * 1024 * 1024, pids: 10 } })
      const mounts = readFileSync('/proc/self/mounts', 'utf8')
      expect(mounts).not.toContain(r.id)
      const cgroupDirs = ['memory', 'pids', 'cpu', 'unified', ''].map((c) => join('/sys/fs/cgroup', c, 'skiff', r.id))
      for (const d of cgroupDirs) expect(existsSync(d), d).toBe(false)
      expect(readdirSync(join(dir, 'rt', 'containers'))).not.toContain(r.id)
      expect(existsSync(join(dir, 'rt', 'state', r.id))).toBe(false)
      expect(existsSync(join(dir, 'rt', 'exits', r.id))).toBe(false)
      expect(readdirSync(join(dir, 'rt', 'sockets'))).not.toContain(r.id)
    })

    it('the container outlives the process that created it, and is adopted after', async () => {
      const s = spec(['sh', '-c', 'sleep 1; exit 7'])
      const script = `
        import { createRuntime } from ${JSON.stringify(join(PACKAGE_ROOT, 'src/runtime/index.ts'))}
        const rt = createRuntime({ root: ${JSON.stringify(join(dir, 'rt'))}, runtime: ${JSON.stringify(name)} })
        const c = await rt.create(${JSON.stringify({ ...s, image })})
        await c.start()
        process.exit(0)`
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_ROOT, stdio: 'inherit' })
      const c = await rt.adopt(s.id)
      expect(c).toBeDefined()
      expect(await c!.wait()).toMatchObject({ exitCode: 7 })
      await c!.remove()
      expect(await rt.adopt(s.id)).toBeUndefined()
    })
  })
}
