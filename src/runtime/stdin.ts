import { nativeSys, type AttachHandle, type NativeSys } from '../lib/native.js'
import { stdinClosed, stdinUnavailable } from './errors.js'

/** conmon reads its attach socket 32 KiB at a time and drops the rest of a
 *  longer SEQPACKET message (src/conn_sock.c CONN_SOCK_BUF_SIZE). */
export const ATTACH_CHUNK = 32 * 1024

/** The write side of a container's stdin, through conmon's attach socket.
 *  conmon (started with -i) holds the container's stdin pipe; everything sent on
 *  the socket goes into it, and shutting the socket's write side closes it: the
 *  job reads EOF. (Why the connection lives in the addon: native/sys.c, attach.)
 *  Sends are non-blocking: a full pipe (a job not reading its stdin) makes
 *  writes wait with back-off instead of holding a thread. Writes are serialised,
 *  so bytes arrive in the order they were given. */
export class StdinWriter {
  #h: AttachHandle | undefined
  #tail: Promise<void> = Promise.resolve()
  #pending = 0

  private constructor(
    readonly id: string,
    private readonly sys: NativeSys,
    h: AttachHandle,
  ) {
    this.#h = h
  }

  static open(id: string, attachSocket: string): StdinWriter {
    const sys = nativeSys()
    if (!sys) throw stdinUnavailable(id, 'the native addon is not built (npm install needs g++)')
    try {
      return new StdinWriter(id, sys, sys.attachOpen(attachSocket))
    } catch (e) {
      throw stdinUnavailable(id, `${(e as Error).message} (${attachSocket})`)
    }
  }

  get closed(): boolean {
    return this.#h === undefined
  }

  /** Bytes accepted by write() and not yet in the socket. */
  get pending(): number {
    return this.#pending
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#h === undefined) return Promise.reject(stdinClosed(this.id, 'closed earlier'))
    this.#pending += data.byteLength
    const p = this.#tail.then(() => this.#send(data)).finally(() => (this.#pending -= data.byteLength))
    this.#tail = p.catch(() => {})
    return p
  }

  /** EOF for the job, after everything written so far. */
  async close(): Promise<void> {
    await this.#tail
    this.#drop(false)
  }

  /** Close now, dropping what is still queued (the job has ended). */
  destroy(): void {
    this.#drop(true)
  }

  #drop(all: boolean) {
    if (this.#h === undefined) return
    this.sys.attachShutdown(this.#h, all)
    this.#h = undefined
  }

  async #send(data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.byteLength; ) {
      const chunk = data.subarray(off, off + ATTACH_CHUNK)
      for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
        if (this.#h === undefined) throw stdinClosed(this.id, 'closed while writing')
        try {
          off += this.sys.attachSend(this.#h, chunk) // one SEQPACKET message: all of it or EAGAIN
          break
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code
          if (code !== 'EAGAIN') {
            this.#drop(true)
            throw stdinClosed(this.id, code === 'EPIPE' || code === 'ECONNRESET' || code === 'ENOTCONN' ? 'the job has exited' : String(code))
          }
          await new Promise((r) => setTimeout(r, wait))
        }
      }
    }
  }
}
