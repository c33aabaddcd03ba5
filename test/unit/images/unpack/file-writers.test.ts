import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FileWriterPool } from '../../../../src/images/unpack/file-writers.js'

const root = mkdtempSync(join(tmpdir(), 'skiff-file-writers-'))
const pool = new FileWriterPool(2)
afterAll(async () => {
  await pool.close()
  rmSync(root, { recursive: true, force: true })
})

const job = (path: string, data: string, over: Partial<Parameters<FileWriterPool['write']>[1]> = {}) => ({
  path, data: Buffer.from(data), mode: 0o644, uid: process.getuid!(), gid: process.getgid!(), mtime: 1_700_000_000.25, chown: false, chmod: false, ...over,
})

describe('FileWriterPool', () => {
  it('creates files in many directories with content, mode and mtime; a view of a big buffer is copied exactly', async () => {
    const big = Buffer.alloc(1 << 20, 0x61)
    const jobs: Promise<void>[] = []
    for (let d = 0; d < 8; d++) {
      mkdirSync(join(root, `d${d}`))
      for (let f = 0; f < 50; f++) jobs.push(pool.write(`d${d}`, { ...job(join(root, `d${d}`, `f${f}`), ''), data: big.subarray(f, f + 10 + d), mode: 0o4755, chmod: true }))
    }
    await Promise.all(jobs)
    for (const [d, f] of [[0, 0], [7, 49], [3, 17]] as const) {
      const p = join(root, `d${d}`, `f${f}`)
      expect(readFileSync(p, 'utf8')).toBe('a'.repeat(10 + d))
      const st = statSync(p)
      expect(st.mode & 0o7777).toBe(0o4755)
      expect(st.mtimeMs).toBe(1_700_000_000_250)
    }
  })

  it.each([
    ['an existing file (O_EXCL)', 'exists', 'EEXIST'],
    ['a missing parent', 'nodir/x', 'ENOENT'],
  ])('rejects %s with the errno code', async (_what, rel, code) => {
    writeFileSync(join(root, 'exists'), 'x')
    await expect(pool.write('.', job(join(root, rel), 'y'))).rejects.toMatchObject({ code })
    if (rel === 'exists') expect(readFileSync(join(root, 'exists'), 'utf8')).toBe('x')
  })

  it('never writes through a symlink (O_NOFOLLOW)', async () => {
    const { symlinkSync } = await import('node:fs')
    symlinkSync(join(root, 'target'), join(root, 'link'))
    await expect(pool.write('.', job(join(root, 'link'), 'z'))).rejects.toMatchObject({ code: 'EEXIST' })
    expect(() => statSync(join(root, 'target'))).toThrow()
  })

  it('stops its threads once idle and starts them again on the next write', async () => {
    const idle = new FileWriterPool(2, 20)
    try {
      mkdirSync(join(root, 'idle'))
      await idle.write('idle', job(join(root, 'idle', 'a'), 'one'))
      expect(idle.threads).toBe(1)
      while (idle.threads > 0) await new Promise((r) => setTimeout(r, 10))
      await idle.write('idle', job(join(root, 'idle', 'b'), 'two'))
      expect(readFileSync(join(root, 'idle', 'b'), 'utf8')).toBe('two')
      expect(idle.threads).toBe(1)
    } finally {
      await idle.close()
    }
  })
})
