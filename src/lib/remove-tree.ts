import { rm, unlink } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { nativeSys } from './native.js'

/** rm -rf. Through the addon it is one thread-pool job instead of an lstat,
 *  unlink or rmdir round trip per entry (a container dir has a dozen), and it
 *  refuses to descend into a mount left inside rather than empty it. */
export async function removeTree(path: string, opts: { native?: boolean } = {}): Promise<void> {
  const s = opts.native === false ? undefined : nativeSys()
  if (s && isAbsolute(path)) return s.rmtree(path)
  await rm(path, { recursive: true, force: true })
}

/** rm -f of one file or link: a bare unlink. fs.rm() lstats first and goes
 *  through its recursive machinery even for a single file. */
export async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e
  })
}
