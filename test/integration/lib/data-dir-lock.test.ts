import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { lockDataDir } from '../../../src/data-dir.js'
import { nativeSys } from '../../../src/lib/native.js'
import { PACKAGE_ROOT } from '../../../src/lib/paths.js'
import { freePort } from '../../helpers/daemon.js'

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'skiff-lock-'))
  dirs.push(d)
  return d
}
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A process that waits for `go` to appear, then tries the lock once, says
 *  won/lost on stdout, and (if it won) holds the lock until killed. */
function contender(dir: string, go: string, native: boolean): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
  const code = `
    const { existsSync } = await import('node:fs')
    const { lockDataDir } = await import(${JSON.stringify(join(PACKAGE_ROOT, 'src/data-dir.ts'))})
    process.stdout.write('ready\\n')
    // poll every 1 ms (not a busy loop: 5 spinning processes would starve a 2-core machine)
    const nap = new Int32Array(new SharedArrayBuffer(4))
    while (!existsSync(${JSON.stringify(go)})) Atomics.wait(nap, 0, 0, 1)
    try { lockDataDir(${JSON.stringify(dir)}, { native: ${native} }); process.stdout.write('won\\n'); setInterval(() => {}, 1000) }
    catch (e) { process.stdout.write((e.code === 'DATA_DIR_LOCKED' ? 'lost' : 'error ' + e.message) + '\\n'); process.exit(0) }`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  let out = ''
  let onReady!: () => void
  let onResult!: (r: string) => void
  const ready = new Promise<void>((r) => (onReady = r))
  const result = new Promise<string>((r) => (onResult = r))
  // one listener for both: "ready" and the verdict may arrive in one chunk
  child.stdout!.on('data', (b: Buffer) => {
    out += b
    if (out.includes('ready\n')) onReady()
    const m = /(won|lost|error.*)\n/.exec(out)
    if (m) onResult(m[1]!)
  })
  return { child, ready, result }
}

describe.each([
  ['flock (addon)', true],
  ['O_EXCL + liveness (fallback)', false],
])('data dir lock through %s', (_name, native) => {
  it('a second holder in the same process is refused (a pid file naming our own pid was not)', () => {
    if (native) expect(nativeSys()?.flockExclusive).toBeTypeOf('function')
    const dir = tmp()
    const release = lockDataDir(dir, { native })
    expect(() => lockDataDir(dir, { native })).toThrow(expect.objectContaining({ code: 'DATA_DIR_LOCKED' }))
    release()
    lockDataDir(dir, { native })()
  })

  it('of 4 processes released at the same instant exactly one wins; after it is killed -9 the next one wins at once', async () => {
    const dir = tmp()
    const go = join(dir, 'go')
    const cs = Array.from({ length: 4 }, () => contender(dir, go, native))
    await Promise.all(cs.map((c) => c.ready))
    writeFileSync(go, '')
    const results = await Promise.all(cs.map((c) => c.result))
    expect([...results].sort()).toEqual(['lost', 'lost', 'lost', 'won'])
    const winner = cs[results.indexOf('won')]!
    winner.child.kill('SIGKILL')
    await new Promise((r) => winner.child.once('exit', r))
    const next = contender(dir, go, native)
    expect(await next.result).toBe('won')
    next.child.kill('SIGKILL')
  }, 60_000)
})

describe('two daemons started at the same instant on one data dir', () => {
  it('one serves, the other exits with DATA_DIR_LOCKED', async () => {
    const dir = tmp()
    const start = async () => {
      const port = await freePort()
      const c = spawn(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'src/cli/main.ts'), 'daemon', '--data-dir', dir, '--socket', join(dir, `api-${port}.sock`), '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
      children.push(c)
      let err = ''
      c.stderr!.on('data', (b: Buffer) => (err += b))
      return { c, err: () => err }
    }
    const [a, b] = await Promise.all([start(), start()])
    const loser = await Promise.race([a, b].map((x) => new Promise<typeof x>((r) => x.c.once('exit', () => r(x)))))
    expect(loser.c.exitCode).not.toBe(0)
    expect(loser.err()).toMatch(/in use by another skiff daemon \(pid \d+\)/)
    const winner = loser === a ? b : a
    expect(winner.c.exitCode).toBeNull()
    winner.c.kill('SIGTERM')
    await new Promise((r) => winner.c.once('exit', r))
  }, 60_000)
})
