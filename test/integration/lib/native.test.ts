import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { nativeSys } from '../../../src/lib/native.js'
import { mountFs, unmountFs } from '../../../src/lib/mount.js'
import { removeTree } from '../../../src/lib/remove-tree.js'
import { spawnDetached } from '../../../src/lib/spawn-detached.js'

const dir = mkdtempSync(join(tmpdir(), 'skiff-native-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const drain = (r: Readable) => new Promise<string>((resolve) => {
  let s = ''
  r.on('data', (b: Buffer) => (s += b.toString()))
  r.on('end', () => resolve(s))
  r.on('error', () => resolve(s))
})
const zombies = () => readFileSync('/proc/self/task/' + process.pid + '/children', 'utf8').trim().split(/\s+/).filter(Boolean)
  .filter((pid) => { try { return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return false } })

describe.each([
  ['posix_spawn (addon)', true],
  ['Node spawn (fallback)', false],
])('spawnDetached through %s', (_name, native) => {
  it('gives the child its env, cwd, a new session, default SIGPIPE, and pipes on the chosen fds', async () => {
    if (native) expect(nativeSys()).toBeDefined()
    const script = 'echo "$FOO $(pwd)" >&3; echo oops >&2; ps -o sid= -p $$ | tr -d " " >&3; grep SigIgn /proc/$$/status >&3; exit 7'
    const c = await spawnDetached('/bin/sh', ['-c', script], { env: { FOO: 'bar', PATH: process.env.PATH }, cwd: dir, pipeFds: [2, 3], native })
    const [err, out, code] = await Promise.all([drain(c.pipes[0]!), drain(c.pipes[1]!), c.exited])
    expect(code).toBe(7)
    expect(err).toBe('oops\n')
    const [first, sid, sigign] = out.trim().split('\n')
    expect(first).toBe(`bar ${dir}`)
    expect(Number(sid)).toBe(c.pid) // session leader
    // Node ignores SIGPIPE; the child must not inherit that (bit 13 = SIGPIPE)
    expect(BigInt('0x' + sigign!.split(/\s+/)[1]) & (1n << 12n)).toBe(0n)
  })

  it('reaps the child: no zombie is left', async () => {
    const c = await spawnDetached('/bin/true', [], { env: {}, pipeFds: [], native })
    expect(await c.exited).toBe(0)
    expect(zombies()).not.toContain(String(c.pid))
  })

  it('reports a missing program by rejecting exited with ENOENT', async () => {
    const c = await spawnDetached(join(dir, 'no-such-program'), [], { env: {}, pipeFds: [3], native })
    await expect(c.exited).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe.each([
  ['addon', true],
  ['fs.rm (fallback)', false],
])('removeTree through %s', (_name, native) => {
  it('removes a tree without following a symlink out of it; a missing path is fine', async () => {
    const outside = join(dir, `outside-${native}`)
    mkdirSync(outside)
    writeFileSync(join(outside, 'keep'), 'x')
    const t = join(dir, `tree-${native}`)
    mkdirSync(join(t, 'a/b/c'), { recursive: true })
    writeFileSync(join(t, 'a/b/c/f'), 'y')
    symlinkSync(outside, join(t, 'a/link'))
    await removeTree(t, { native })
    expect(existsSync(t)).toBe(false)
    expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('x')
    await removeTree(t, { native })
  })
})

describe('removeTree (addon)', () => {
  it('never deletes through a mount left inside the tree', async () => {
    const t = join(dir, 'mounted')
    const m = join(t, 'm')
    mkdirSync(m, { recursive: true })
    await mountFs({ source: 'tmpfs', target: m, type: 'tmpfs', options: 'size=1m' })
    try {
      writeFileSync(join(m, 'precious'), 'z')
      await expect(removeTree(t)).rejects.toBeTruthy()
      expect(readFileSync(join(m, 'precious'), 'utf8')).toBe('z')
    } finally {
      await unmountFs(m)
    }
    await removeTree(t)
    expect(existsSync(t)).toBe(false)
  })
})
