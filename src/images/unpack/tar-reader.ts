import { invalidTar, unsupportedEntry } from './errors.js'

// A strict, streaming reader of POSIX ustar / PAX / GNU tar, written for layer
// extraction instead of tar-stream because:
//  - tar-stream decodes PAX values as UTF-8, which corrupts binary xattrs such as
//    security.capability (file capabilities of ping, newuidmap…);
//  - it merges PAX global headers into every entry, which Go's archive/tar (what
//    moby and containerd extract with) does not; skiff follows Go;
//  - file bodies can be handed out as zero-copy views of the input chunks.
// Format: https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13
// Go semantics followed: header-only types (links, devices, dirs, fifos) carry no
// body whatever their size field says; a clean EOF at a block boundary ends the
// archive like the two zero blocks do.

export type TarEntryType = 'file' | 'link' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo'

export interface TarHeader {
  name: string
  type: TarEntryType
  mode: number
  uid: number
  gid: number
  size: number
  /** seconds since the epoch, possibly fractional (PAX mtime) */
  mtime: number
  linkname: string
  devmajor: number
  devminor: number
  /** SCHILY.xattr.* PAX records, raw bytes */
  xattrs: Map<string, Buffer> | undefined
  /** byte offset of the entry's header block in the tar */
  offset: number
}

const BLOCK = 512
const MAX_META = 1 << 20 // PAX / GNU long-name records: 1 MiB is far beyond any real name

const TYPES: Record<string, TarEntryType | 'pax' | 'global' | 'longname' | 'longlink'> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'chardev', '4': 'blockdev', '5': 'dir', '6': 'fifo',
  x: 'pax', g: 'global', L: 'longname', K: 'longlink',
}

interface Pax {
  text: Map<string, string>
  xattrs: Map<string, Buffer> | undefined
}

export class TarReader {
  readonly #it: AsyncIterator<Uint8Array>
  readonly #onChunk: ((b: Buffer) => void) | undefined
  #cur: Buffer = Buffer.alloc(0)
  #pos = 0
  #consumed = 0 // bytes handed out of #cur before it (offset of #cur[0])
  #total = 0 // bytes pulled from the source
  #remaining = 0 // body bytes of the current entry not yet read
  #padding = 0
  #done = false

  constructor(src: AsyncIterable<Uint8Array>, opts: { onChunk?: (chunk: Buffer) => void } = {}) {
    this.#it = src[Symbol.asyncIterator]()
    this.#onChunk = opts.onChunk
  }

  /** Bytes pulled from the source so far (all of it once next() returned null). */
  get bytes(): number {
    return this.#total
  }

  get #offset(): number {
    return this.#consumed + this.#pos
  }

  async #pull(): Promise<boolean> {
    for (;;) {
      const r = await this.#it.next()
      if (r.done) return false
      const v = r.value
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
      this.#onChunk?.(b)
      this.#total += b.length
      this.#consumed += this.#cur.length
      this.#cur = b
      this.#pos = 0
      if (b.length) return true
    }
  }

  /** Exactly n bytes, or fewer only at EOF. Zero-copy when they lie in one chunk. */
  async #take(n: number): Promise<Buffer> {
    if (this.#cur.length - this.#pos >= n) {
      const b = this.#cur.subarray(this.#pos, this.#pos + n)
      this.#pos += n
      return b
    }
    const parts: Buffer[] = []
    let need = n
    while (need > 0) {
      const avail = this.#cur.length - this.#pos
      if (avail === 0) {
        if (!(await this.#pull())) break
        continue
      }
      const k = Math.min(avail, need)
      parts.push(this.#cur.subarray(this.#pos, this.#pos + k))
      this.#pos += k
      need -= k
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }

  async #skip(n: number): Promise<void> {
    while (n > 0) {
      const avail = this.#cur.length - this.#pos
      if (avail === 0) {
        if (!(await this.#pull())) throw invalidTar('unexpected end of data', this.#offset)
        continue
      }
      const k = Math.min(avail, n)
      this.#pos += k
      n -= k
    }
  }

  async #takeExact(n: number, what: string): Promise<Buffer> {
    const b = await this.#take(n)
    if (b.length !== n) throw invalidTar(`unexpected end of data in ${what}`, this.#offset)
    return b
  }

  /** Reads the rest of the source (trailing zero blocks count towards the diff id). */
  async #drain(): Promise<void> {
    this.#pos = this.#cur.length
    while (await this.#pull()) this.#pos = this.#cur.length
  }

  /** The next entry's header, skipping whatever of the previous body was not read;
   *  null at the end of the archive, after the whole source has been consumed. */
  async next(): Promise<TarHeader | null> {
    if (this.#done) return null
    await this.#skip(this.#remaining + this.#padding)
    this.#remaining = this.#padding = 0
    let pax: Pax | undefined
    let longName: string | undefined
    let longLink: string | undefined
    for (;;) {
      const offset = this.#offset
      const h = await this.#take(BLOCK)
      if (h.length === 0 && this.#cur.length - this.#pos === 0) {
        this.#done = true
        if (pax || longName || longLink) throw invalidTar('archive ends after an extended header', offset)
        return null
      }
      if (h.length < BLOCK) throw invalidTar('truncated header block', offset)
      if (isZero(h)) {
        this.#done = true
        await this.#drain()
        return null
      }
      verifyChecksum(h, offset)
      const flag = String.fromCharCode(h[156]!)
      const t = TYPES[flag]
      const size = num(h, 124, 12, offset)
      if (t === 'pax' || t === 'global' || t === 'longname' || t === 'longlink') {
        if (size > MAX_META) throw invalidTar(`extended header of ${size} bytes`, offset)
        const body = Buffer.from(await this.#takeExact(size, 'extended header'))
        await this.#skip(pad(size))
        if (t === 'pax') pax = parsePax(body, offset)
        else if (t === 'longname') longName = cstr(body, 0, body.length)
        else if (t === 'longlink') longLink = cstr(body, 0, body.length)
        // 'global': Go's reader hands it to the caller and applies nothing; moby skips it.
        continue
      }
      const rawName = longName ?? pax?.text.get('path') ?? ustarName(h)
      if (t === undefined) {
        if (flag === 'S' || pax?.text.has('GNU.sparse.major') || pax?.text.has('GNU.sparse.size')) throw unsupportedEntry(rawName, 'sparse files are not supported')
        throw unsupportedEntry(rawName, `unsupported tar type flag ${JSON.stringify(flag)}`)
      }
      if (pax && [...pax.text.keys()].some((k) => k.startsWith('GNU.sparse.'))) throw unsupportedEntry(rawName, 'sparse files are not supported')
      let type: TarEntryType = t
      // V7 tars mark directories with a trailing slash on a regular entry.
      if (type === 'file' && flag !== '7' && rawName.endsWith('/')) type = 'dir'
      const paxSize = pax?.text.get('size')
      const bodySize = type === 'file' ? (paxSize !== undefined ? paxNum(paxSize, 'size', offset) : size) : 0
      const paxMtime = pax?.text.get('mtime')
      const paxUid = pax?.text.get('uid')
      const paxGid = pax?.text.get('gid')
      const hdr: TarHeader = {
        name: rawName,
        type,
        mode: num(h, 100, 8, offset) & 0o7777,
        uid: paxUid !== undefined ? paxNum(paxUid, 'uid', offset) : num(h, 108, 8, offset),
        gid: paxGid !== undefined ? paxNum(paxGid, 'gid', offset) : num(h, 116, 8, offset),
        size: bodySize,
        mtime: paxMtime !== undefined ? paxFloat(paxMtime, offset) : num(h, 136, 12, offset),
        linkname: longLink ?? pax?.text.get('linkpath') ?? cstr(h, 157, 100),
        devmajor: type === 'chardev' || type === 'blockdev' ? num(h, 329, 8, offset) : 0,
        devminor: type === 'chardev' || type === 'blockdev' ? num(h, 337, 8, offset) : 0,
        xattrs: pax?.xattrs,
        offset,
      }
      this.#remaining = bodySize
      this.#padding = pad(bodySize)
      return hdr
    }
  }

  /** The whole body of the current entry as one buffer (callers bound its size). */
  async read(): Promise<Buffer> {
    const b = await this.#takeExact(this.#remaining, 'file body')
    this.#remaining = 0
    return b
  }

  /** The body of the current entry, chunk by chunk, as views of the input. */
  async *chunks(): AsyncGenerator<Buffer> {
    while (this.#remaining > 0) {
      if (this.#cur.length - this.#pos === 0 && !(await this.#pull())) throw invalidTar('unexpected end of data in file body', this.#offset)
      const k = Math.min(this.#cur.length - this.#pos, this.#remaining)
      const b = this.#cur.subarray(this.#pos, this.#pos + k)
      this.#pos += k
      this.#remaining -= k
      yield b
    }
  }

  /** Stop reading: releases the source (destroys a Node stream). */
  async close(): Promise<void> {
    await this.#it.return?.()
  }
}

const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  return true
}

function verifyChecksum(h: Buffer, offset: number): void {
  const want = num(h, 148, 8, offset)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 32 : h[i]!
    unsigned += c
    signed += c > 127 ? c - 256 : c
  }
  if (want !== unsigned && want !== signed) throw invalidTar('header checksum mismatch', offset)
}

/** NUL-terminated string field. Names are bytes on Linux; skiff decodes them as UTF-8. */
function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off)
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end)
}

function ustarName(h: Buffer): string {
  const name = cstr(h, 0, 100)
  // POSIX ustar ("ustar\0" "00") has a 155-byte prefix; GNU ("ustar  \0") uses that area for other fields.
  if (h.toString('latin1', 257, 263) === 'ustar\0') {
    const prefix = cstr(h, 345, 155)
    if (prefix) return `${prefix}/${name}`
  }
  return name
}

/** Octal number field, or base-256 (GNU/star) when the high bit is set. */
function num(b: Buffer, off: number, len: number, at: number): number {
  const first = b[off]!
  if (first & 0x80) {
    if (first === 0xff) throw invalidTar('negative number field', at)
    let v = first & 0x7f
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!
    if (!Number.isSafeInteger(v)) throw invalidTar('number field out of range', at)
    return v
  }
  let v = 0
  let i = off
  const end = off + len
  while (i < end && (b[i] === 32 || b[i] === 0)) i++
  for (; i < end; i++) {
    const c = b[i]!
    if (c === 0 || c === 32) break
    if (c < 48 || c > 55) throw invalidTar(`invalid octal number field at offset ${off}`, at)
    v = v * 8 + (c - 48)
  }
  return v
}

function paxNum(s: string, key: string, at: number): number {
  if (!/^\d+$/.test(s)) throw invalidTar(`invalid PAX ${key} ${JSON.stringify(s)}`, at)
  const v = Number(s)
  if (!Number.isSafeInteger(v)) throw invalidTar(`PAX ${key} out of range`, at)
  return v
}

function paxFloat(s: string, at: number): number {
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw invalidTar(`invalid PAX mtime ${JSON.stringify(s)}`, at)
  return Number(s)
}

/** PAX extended header: records "<len> <key>=<value>\n". Values stay bytes for
 *  SCHILY.xattr.* (binary), UTF-8 text otherwise. */
function parsePax(b: Buffer, at: number): Pax {
  const text = new Map<string, string>()
  let xattrs: Map<string, Buffer> | undefined
  let i = 0
  while (i < b.length) {
    if (b[i] === 0) break // some writers pad with NULs
    const sp = b.indexOf(32, i)
    if (sp < 0) throw invalidTar('malformed PAX record', at)
    const len = Number(b.toString('latin1', i, sp))
    if (!Number.isSafeInteger(len) || len <= sp - i + 1 || i + len > b.length || b[i + len - 1] !== 10) throw invalidTar('malformed PAX record', at)
    const eq = b.indexOf(61, sp + 1)
    if (eq < 0 || eq >= i + len) throw invalidTar('malformed PAX record', at)
    const key = b.toString('utf8', sp + 1, eq)
    const value = b.subarray(eq + 1, i + len - 1)
    if (key.startsWith('SCHILY.xattr.')) (xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), Buffer.from(value))
    else text.set(key, value.toString('utf8'))
    i += len
  }
  return { text, xattrs }
}
