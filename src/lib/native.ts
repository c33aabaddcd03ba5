import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { PACKAGE_ROOT } from './paths.js'

/** The N-API addon in native/ (built by `npm install`). Every caller has a
 *  fallback through system tools or Node, so skiff still works without a compiler;
 *  SKIFF_NO_NATIVE=1 forces the fallbacks (tests run both paths). */
export interface NativeSys {
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): Promise<void>
  umount2(target: string, flags: number): Promise<void>
  /** posix_spawn on the thread pool: /dev/null on fds 0 and 1, new session, default signals; each
   *  fd in pipeFds is the write end of a pipe whose read end comes back in `fds`. `stdinPath`
   *  (feature 'spawn-stdin'; an older build ignores it) is opened read-only as fd 0. */
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, pipeFds: number[], stdinPath?: string | null): Promise<{ pid: number; fds: number[] }>
  /** Reap a child from spawn(): its exit code, or 128+signal. */
  waitpid(pid: number): Promise<number>
  /** rm -rf as one thread-pool job; never follows symlinks or enters another
   *  filesystem (a mount inside makes it fail with ENOTEMPTY/EBUSY). */
  rmtree(absolutePath: string): Promise<void>
  /** A connection to conmon's attach socket (SOCK_SEQPACKET), its output drained
   *  and discarded by a thread of its own. Freed when garbage-collected. */
  attachOpen(path: string): AttachHandle
  /** Non-blocking send of one message: bytes sent; throws EAGAIN or EPIPE. */
  attachSend(h: AttachHandle, data: Uint8Array): number
  /** SHUT_WR (EOF for the job's stdin), or drop the connection (both). */
  attachShutdown(h: AttachHandle, both: boolean): void
  /** flock(fd, LOCK_EX | LOCK_NB); throws EAGAIN when another open file holds it.
   *  Optional: an addon built before it lacks it (the caller has an O_EXCL fallback). */
  flockExclusive?(fd: number): void
  /** fallocate(fd, PUNCH_HOLE | KEEP_SIZE, offset, length), synchronous. Optional like flockExclusive. */
  punchHole?(fd: number, offset: number, length: number): void
  /** A new network namespace with lo up, bound at `path` (must not exist), made without
   *  a fork on a pool thread (feature 'netns'). Undone by umount2(path, MNT_DETACH) + unlink. */
  netnsCreate?(path: string): Promise<void>
  /** execve(2): replace this process with `file` (same pid and stdio); returns only by throwing (feature 'execve'). */
  execve?(file: string, argv: string[], envp: string[]): never
  /** btrfs (feature 'btrfs-quota'), each an ioctl on a pool thread: make or delete subvolume
   *  `name` in dir `parent`; set (null: clear) the max referenced bytes of the subvolume
   *  `path` is in; destroy a quota group; and, synchronously, the filesystem's id and the
   *  subvolume `path` is in. */
  subvolCreate?(parent: string, name: string): Promise<void>
  subvolDelete?(parent: string, name: string): Promise<void>
  qgroupLimit?(path: string, bytes: number | null): Promise<void>
  qgroupDestroy?(pathOnFs: string, qgroupId: number): Promise<void>
  btrfsInfo?(path: string): { fsid: string; subvolId: number }
  /** Listen on the unix socket `path` now, then take the one fd a runtime sends there
   *  (crun's --console-socket: a pty master) on a pool thread (feature 'console'). A
   *  connection that sends no fd rejects with ENOENT (how a caller stops waiting), a
   *  quiet socket after timeoutMs with ETIMEDOUT. The caller unlinks `path`. */
  consoleReceive?(path: string, timeoutMs: number): Promise<number>
  /** TIOCSWINSZ on a pty master (feature 'console'). */
  setWinsize?(fd: number, rows: number, cols: number): void
  /** malloc_trim(0): glibc's freed heap back to the OS; true if any was (feature 'malloc-trim'). */
  mallocTrim?(): boolean
  /** what this build does beyond the base set: 'spawn-stdin', 'netns', 'execve', 'btrfs-quota', 'console', 'malloc-trim' */
  features?: string[]
}

/** The addon, if it is built and has `feature` (an addon built from an older sys.c lacks newer ones). */
export function nativeWith(feature: string): NativeSys | undefined {
  const s = nativeSys()
  return s?.features?.includes(feature) ? s : undefined
}

declare const attachHandle: unique symbol
export type AttachHandle = { readonly [attachHandle]: true }

const ADDON = join(PACKAGE_ROOT, 'native/build/Release/skiff_sys.node')
let sys: NativeSys | undefined | null = null

export function nativeSys(): NativeSys | undefined {
  if (sys === null) {
    sys = undefined
    if (process.env.SKIFF_NO_NATIVE !== '1' && existsSync(ADDON)) {
      const m = createRequire(import.meta.url)(ADDON) as Partial<NativeSys>
      // an addon built from an older native/sys.c lacks the newer calls: use none of it
      if (typeof m.spawn === 'function' && typeof m.attachOpen === 'function') sys = m as NativeSys
    }
  }
  return sys
}
