import { closeSync, copyFileSync, fstatSync, openSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

/** crun and runc guard against CVE-2019-5736 (a container overwriting the host's
 *  runtime binary through /proc/self/exe) by copying themselves into a sealed
 *  memfd and re-executing on every invocation: ≈1.1 ms of each `create` here.
 *  They skip that when they already run from a copy nobody can reach, which they
 *  recognise as a file with no links left plus `_LIBCONTAINER_CLONED_BINARY=1`
 *  (crun src/libcrun/cloned_binary.c is_self_cloned; runc's nsexec is the same).
 *  So: copy the binary once per daemon, keep it open, unlink it and run it as
 *  /proc/<daemon>/fd/<n>. The copy lives only in this process's fd table (O_CLOEXEC,
 *  never inherited by conmon or a container), so a container can overwrite at
 *  most an unlinked file that dies with the daemon, never /usr/bin/crun. */
export interface RuntimeBinary {
  /** What to exec (the unlinked copy, or the real binary if the copy failed). */
  path: string
  /** Environment the runtime must see for the copy to count as already cloned. */
  env: Record<string, string>
  close(): void
}

export const CLONED_BINARY_ENV = '_LIBCONTAINER_CLONED_BINARY'

export function privateRuntimeBinary(real: string, dir: string): RuntimeBinary {
  const tmp = join(dir, `.runtime-${process.pid}-${Math.random().toString(36).slice(2)}`)
  let fd: number | undefined
  try {
    copyFileSync(real, tmp)
    fd = openSync(tmp, 'r') // Node opens O_CLOEXEC
    unlinkSync(tmp)
    const st = fstatSync(fd)
    if (st.nlink !== 0 || (st.mode & 0o111) === 0) throw new Error('copy not usable')
    const opened = fd
    return { path: `/proc/${process.pid}/fd/${opened}`, env: { [CLONED_BINARY_ENV]: '1' }, close: () => closeSync(opened) }
  } catch {
    if (fd !== undefined) closeSync(fd)
    try {
      unlinkSync(tmp)
    } catch {
      /* never created */
    }
    return { path: real, env: {}, close: () => {} }
  }
}
