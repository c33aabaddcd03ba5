import { copyFile, open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

/** crun guards against CVE-2019-5736 (a container overwriting the host's runtime
 *  binary through /proc/self/exe) by copying itself into a sealed memfd and
 *  re-executing on every invocation: ≈1.1 ms of each `create` here. It skips that
 *  when it already runs from a copy nobody else can reach, which it recognises as
 *  an executable with no links left plus `_LIBCONTAINER_CLONED_BINARY=1` (crun
 *  src/libcrun/cloned_binary.c is_self_cloned).
 *
 *  So each `create` gets its own copy, made while the rootfs is being mounted
 *  (≈0.3 ms on the thread pool), opened, unlinked and run as /proc/<daemon>/fd/<n>;
 *  the fd is closed once the runtime has created the container. A copy is used for
 *  exactly one invocation — one shared copy would let a container that wrote to it
 *  run code on the host at the next create — and the host's binary is never the
 *  one executed, so it cannot be reached from a container either. */
export interface RuntimeBinary {
  /** What to exec: the unlinked copy, or the installed binary if copying failed. */
  path: string
  /** Environment the runtime must see for the copy to count as already cloned. */
  env: Record<string, string>
  close(): Promise<void>
}

export const CLONED_BINARY_ENV = '_LIBCONTAINER_CLONED_BINARY'

export async function privateRuntimeCopy(installed: string, dir: string): Promise<RuntimeBinary> {
  const tmp = join(dir, `.runtime-${Math.random().toString(36).slice(2)}`)
  let fh: FileHandle | undefined
  try {
    await copyFile(installed, tmp)
    fh = await open(tmp, 'r') // O_CLOEXEC: never inherited by conmon or the container
    await unlink(tmp)
    const st = await fh.stat()
    if (st.nlink !== 0 || (st.mode & 0o111) === 0) throw new Error('copy not usable')
    const opened = fh
    return { path: `/proc/${process.pid}/fd/${opened.fd}`, env: { [CLONED_BINARY_ENV]: '1' }, close: () => opened.close() }
  } catch {
    await fh?.close()
    await unlink(tmp).catch(() => {})
    return { path: installed, env: {}, close: async () => {} }
  }
}
