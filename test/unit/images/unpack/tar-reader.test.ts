import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { TarReader, type TarHeader } from '../../../../src/images/unpack/tar-reader.js'
import { buildTar, chardev, dir, fifo, file, hardlink, symlink } from '../../../fixtures/tar.js'

async function readAll(tar: Buffer, chunk = 7777): Promise<{ headers: TarHeader[]; bodies: string[]; bytes: number; digest: string }> {
  const hash = createHash('sha256')
  const parts = Array.from({ length: Math.ceil(tar.length / chunk) }, (_, i) => tar.subarray(i * chunk, (i + 1) * chunk))
  const r = new TarReader(Readable.from(parts), { onChunk: (b) => hash.update(b) })
  const headers: TarHeader[] = []
  const bodies: string[] = []
  for (let h = await r.next(); h; h = await r.next()) {
    headers.push(h)
    if (h.size > 1000) {
      const parts: Buffer[] = []
      for await (const c of r.chunks()) parts.push(c)
      bodies.push(Buffer.concat(parts).toString())
    } else bodies.push((await r.read()).toString())
  }
  return { headers, bodies, bytes: r.bytes, digest: hash.digest('hex') }
}

/** A raw ustar header block with a correct checksum; fields as given. */
function rawHeader(f: { name: string; type: string; size?: number; uid?: Buffer; mode?: string }): Buffer {
  const h = Buffer.alloc(512)
  h.write(f.name, 0)
  h.write(f.mode ?? '0000644\0', 100)
  if (f.uid) f.uid.copy(h, 108)
  else h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write((f.size ?? 0).toString(8).padStart(11, '0') + '\0', 124)
  h.write('14524153400\0', 136)
  h.write(f.type, 156)
  h.write('ustar\0' + '00', 257)
  h.fill(32, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return h
}
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)])
const paxRecord = (key: string, value: Buffer) => {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')])
  let len = body.length + 1
  while (String(len).length + body.length !== len) len++
  return Buffer.concat([Buffer.from(String(len)), body])
}

describe('TarReader', () => {
  it('reads every entry type with its metadata, and hashes every byte of the stream', async () => {
    const entries = [
      dir('usr', { mode: 0o1777, uid: 1000, gid: 1001 }),
      file('usr/big', 'b'.repeat(5000), { mode: 0o4755 }),
      file('usr/small', 'hello'),
      symlink('/etc/target', 'usr/abs'),
      hardlink('usr/small', 'usr/small2'),
      chardev('dev/null', 1, 3),
      fifo('run/fifo'),
      file('x/' + 'long-name/'.repeat(20) + 'leaf', 'deep'),
    ]
    const tar = await buildTar(entries)
    for (const chunk of [1, 100, 512, 7777, 1 << 20]) {
      const { headers, bodies, bytes, digest } = await readAll(tar, chunk)
      expect(headers.map((h) => [h.name, h.type])).toEqual([
        ['usr', 'dir'], ['usr/big', 'file'], ['usr/small', 'file'], ['usr/abs', 'symlink'], ['usr/small2', 'link'],
        ['dev/null', 'chardev'], ['run/fifo', 'fifo'], ['x/' + 'long-name/'.repeat(20) + 'leaf', 'file'],
      ])
      expect(headers[0]).toMatchObject({ mode: 0o1777, uid: 1000, gid: 1001, mtime: 1_700_000_000 })
      expect(headers[1]!.mode).toBe(0o4755)
      expect(bodies[1]).toBe('b'.repeat(5000))
      expect(bodies[2]).toBe('hello')
      expect(headers[3]!.linkname).toBe('/etc/target')
      expect(headers[4]!.linkname).toBe('usr/small')
      expect(headers[5]).toMatchObject({ devmajor: 1, devminor: 3 })
      expect(bodies[7]).toBe('deep')
      expect(bytes).toBe(tar.length)
      expect(digest).toBe(createHash('sha256').update(tar).digest('hex'))
    }
  })

  it('hashes trailing bytes after the end-of-archive blocks too', async () => {
    const tar = Buffer.concat([await buildTar([file('a', 'x')]), Buffer.alloc(4096)])
    const { bytes, digest } = await readAll(tar)
    expect(bytes).toBe(tar.length)
    expect(digest).toBe(createHash('sha256').update(tar).digest('hex'))
  })

  it('skips unread bodies', async () => {
    const r = new TarReader(Readable.from([await buildTar([file('a', 'x'.repeat(3000)), file('b', 'y')])]))
    expect((await r.next())!.name).toBe('a')
    expect((await r.next())!.name).toBe('b')
    expect((await r.read()).toString()).toBe('y')
    expect(await r.next()).toBeNull()
  })

  it('keeps binary PAX xattr values byte for byte and applies PAX path/size', async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x80, 0x00])
    const pax = Buffer.concat([paxRecord('SCHILY.xattr.security.capability', cap), paxRecord('path', Buffer.from('bin/ping')), paxRecord('SCHILY.xattr.user.k', Buffer.from('v=1'))])
    const tar = Buffer.concat([rawHeader({ name: 'PaxHeaders/x', type: 'x', size: pax.length }), pad(pax), rawHeader({ name: 'short', type: '0', size: 2 }), pad(Buffer.from('hi')), Buffer.alloc(1024)])
    const { headers, bodies } = await readAll(tar)
    expect(headers).toHaveLength(1)
    expect(headers[0]!.name).toBe('bin/ping')
    expect(headers[0]!.xattrs!.get('security.capability')!.equals(cap)).toBe(true)
    expect(headers[0]!.xattrs!.get('user.k')!.toString()).toBe('v=1')
    expect(bodies[0]).toBe('hi')
  })

  it('does not apply a PAX global header to entries (Go archive/tar semantics)', async () => {
    const g = paxRecord('path', Buffer.from('evil'))
    const tar = Buffer.concat([rawHeader({ name: 'g', type: 'g', size: g.length }), pad(g), rawHeader({ name: 'plain', type: '0' }), Buffer.alloc(1024)])
    expect((await readAll(tar)).headers.map((h) => h.name)).toEqual(['plain'])
  })

  it('reads base-256 numbers (GNU large uid)', async () => {
    const uid = Buffer.from([0x80, 0, 0, 0, 0, 0x01, 0x00, 0x00])
    const tar = Buffer.concat([rawHeader({ name: 'f', type: '0', uid }), Buffer.alloc(1024)])
    expect((await readAll(tar)).headers[0]!.uid).toBe(65536)
  })

  it('ends cleanly at EOF on a block boundary without the zero blocks', async () => {
    const tar = rawHeader({ name: 'f', type: '5' })
    expect((await readAll(tar)).headers.map((h) => h.type)).toEqual(['dir'])
  })

  it.each([
    ['a corrupted checksum', async () => { const t = await buildTar([file('a', 'x')]); t[0] = 0x62; return t }, 'INVALID_TAR'],
    ['a truncated body', async () => (await buildTar([file('a', 'x'.repeat(2000))])).subarray(0, 1024), 'INVALID_TAR'],
    ['a truncated header', async () => (await buildTar([file('a', 'x')])).subarray(0, 300), 'INVALID_TAR'],
    ['a GNU sparse entry', async () => Buffer.concat([rawHeader({ name: 's', type: 'S' }), Buffer.alloc(1024)]), 'UNSUPPORTED_TAR_ENTRY'],
    ['an unknown type flag', async () => Buffer.concat([rawHeader({ name: 'v', type: 'V' }), Buffer.alloc(1024)]), 'UNSUPPORTED_TAR_ENTRY'],
    ['a non-octal number', async () => Buffer.concat([rawHeader({ name: 'm', type: '0', mode: '00009x4\0' }), Buffer.alloc(1024)]), 'INVALID_TAR'],
    ['a PAX header of 2 MiB', async () => Buffer.concat([rawHeader({ name: 'p', type: 'x', size: 2 << 20 }), Buffer.alloc(2 << 20)]), 'INVALID_TAR'],
  ])('refuses %s', async (_name, make, code) => {
    await expect(readAll(await make())).rejects.toMatchObject({ code })
  })
})
