import { close, closeSync, constants, fchmod, fchmodSync, fchown, fchownSync, futimes, futimesSync, open, openSync, readFileSync, write, writeSync } from 'node:fs'
import { chmod, lchown, link } from 'node:fs/promises'
import { setAttribute, setAttributeSync } from '@napi-rs/xattr'
import { exec } from '../../lib/exec.js'
import { isAllowedXattr } from './whiteouts.js'

// Side effects for one entry. Every path handed in here is absolute, inside a
// private extraction dir, and its parent has been checked to be a real directory
// by extract.ts; still, files are opened O_EXCL|O_NOFOLLOW so that nothing is ever
// written through a link.

export const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW

export interface Meta {
  mode: number
  uid: number
  gid: number
  mtime: number
  xattrs: Map<string, Buffer> | undefined
}

/** The facts about this process that decide which metadata calls are needed. */
export interface Identity {
  uid: number
  gid: number
  umask: number
}

export function currentIdentity(): Identity {
  let umask = 0o022
  try {
    const m = /^Umask:\s*([0-7]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m) umask = parseInt(m[1]!, 8)
  } catch {
    // keep the usual default
  }
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0, umask }
}

export const needsChown = (m: Meta, id: Identity) => m.uid !== id.uid || m.gid !== id.gid
/** chmod after create when the umask ate bits or special bits are set
 *  (and always after a chown, which clears setuid/setgid). */
export const needsChmod = (m: Meta, id: Identity) => (m.mode & 0o7000) !== 0 || (m.mode & id.umask) !== 0

/** Create a regular file with its whole content, owner, mode and mtime, in one
 *  callback chain (one promise, one threadpool round trip per syscall). */
export function writeWholeFile(path: string, data: Buffer, m: Meta, id: Identity): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, FILE_FLAGS, m.mode & 0o777, (err, fd) => {
      if (err) return reject(err)
      const finish = (e: Error | null) => close(fd, (e2) => (e ?? e2 ? reject(e ?? e2) : m.xattrs ? setXattrs(path, m.xattrs).then(resolve, reject) : resolve()))
      const meta = () =>
        chownFd(fd, m, id, (e) => {
          if (e) return finish(e)
          chmodFd(fd, m, id, (e) => {
            if (e) return finish(e)
            futimes(fd, m.mtime, m.mtime, finish)
          })
        })
      let off = 0
      const writeMore = () => {
        if (off >= data.length) return meta()
        write(fd, data, off, data.length - off, null, (e, n) => {
          if (e) return finish(e)
          off += n
          writeMore()
        })
      }
      writeMore()
    })
  })
}

/** A file whose body arrives in chunks (large files): the caller awaits each write. */
export class StreamedFile {
  private constructor(readonly path: string, readonly fd: number) {}

  static open(path: string, m: Meta): Promise<StreamedFile> {
    return new Promise((resolve, reject) => open(path, FILE_FLAGS, m.mode & 0o777, (e, fd) => (e ? reject(e) : resolve(new StreamedFile(path, fd)))))
  }

  /** Positional write of a whole chunk; several may be in flight at once. */
  write(chunk: Buffer, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let off = 0
      const more = () => {
        if (off >= chunk.length) return resolve()
        write(this.fd, chunk, off, chunk.length - off, position + off, (e, n) => {
          if (e) return reject(e)
          off += n
          more()
        })
      }
      more()
    })
  }

  /** Owner, mode, mtime, close; always closes. */
  finish(m: Meta, id: Identity): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e: Error | null) => close(this.fd, (e2) => (e ?? e2 ? reject(e ?? e2) : m.xattrs ? setXattrs(this.path, m.xattrs).then(resolve, reject) : resolve()))
      chownFd(this.fd, m, id, (e) => {
        if (e) return done(e)
        chmodFd(this.fd, m, id, (e) => (e ? done(e) : futimes(this.fd, m.mtime, m.mtime, done)))
      })
    })
  }

  abort(): void {
    close(this.fd, () => {})
  }
}

function chownFd(fd: number, m: Meta, id: Identity, cb: (e: Error | null) => void): void {
  if (!needsChown(m, id)) return cb(null)
  fchown(fd, m.uid, m.gid, cb)
}

function chmodFd(fd: number, m: Meta, id: Identity, cb: (e: Error | null) => void): void {
  if (!needsChmod(m, id) && !needsChown(m, id)) return cb(null)
  fchmod(fd, m.mode & 0o7777, cb)
}

/** Extended attributes, never following a symlink (@napi-rs/xattr uses the l* calls). */
export async function setXattrs(path: string, xattrs: Map<string, Buffer>): Promise<void> {
  for (const [name, value] of xattrs) if (isAllowedXattr(name)) await setAttribute(path, name, value)
}

export function setXattrsSync(path: string, xattrs: Map<string, Buffer> | undefined): void {
  if (xattrs) for (const [name, value] of xattrs) if (isAllowedXattr(name)) setAttributeSync(path, name, value)
}

/** Device or fifo: Node's fs has no mknod, so the coreutils tool does it (rare in images). */
export async function makeNode(path: string, kind: 'c' | 'b' | 'p', m: Meta, dev: { major: number; minor: number }, id: Identity): Promise<void> {
  const argv = ['mknod', '-m', (m.mode & 0o777).toString(8), '--', path, kind]
  if (kind !== 'p') argv.push(String(dev.major), String(dev.minor))
  await exec(argv, { errorCode: 'UNPACK_FAILED' })
  if (needsChown(m, id)) await lchown(path, m.uid, m.gid)
  if (needsChown(m, id) || (m.mode & 0o7000) !== 0) await chmod(path, m.mode & 0o7777)
  if (m.xattrs) await setXattrs(path, m.xattrs)
}

/** Overlay whiteouts are char devices 0:0. One is made per layer with mknod and every
 *  whiteout is a hardlink to it: overlayfs only looks at the type and rdev (its own
 *  workdir shares one whiteout inode the same way), and link() costs microseconds
 *  where spawning mknod costs milliseconds. */
export class WhiteoutMaker {
  #template: string | undefined
  #n = 0
  constructor(private readonly scratchDir: string) {}

  async make(path: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!this.#template) {
        const t = `${this.scratchDir}/whiteout-${this.#n++}`
        await exec(['mknod', '-m', '0', '--', t, 'c', '0', '0'], { errorCode: 'UNPACK_FAILED' })
        this.#template = t
      }
      try {
        return await link(this.#template, path)
      } catch (e) {
        // ext4 caps an inode at 65000 links: start a fresh template
        if ((e as NodeJS.ErrnoException).code !== 'EMLINK' || attempt > 0) throw e
        this.#template = undefined
      }
    }
  }
}

/** writeWholeFile with direct syscalls on the calling thread: no promise, no
 *  threadpool hop; for small files the syscalls are cheaper than the hop. */
export function writeWholeFileSync(path: string, data: Buffer, m: Meta, id: Identity): void {
  const fd = openSync(path, FILE_FLAGS, m.mode & 0o777)
  try {
    let off = 0
    while (off < data.length) off += writeSync(fd, data, off, data.length - off)
    if (needsChown(m, id)) fchownSync(fd, m.uid, m.gid)
    if (needsChmod(m, id) || needsChown(m, id)) fchmodSync(fd, m.mode & 0o7777)
    futimesSync(fd, m.mtime, m.mtime)
  } finally {
    closeSync(fd)
  }
  if (m.xattrs) setXattrsSync(path, m.xattrs)
}
