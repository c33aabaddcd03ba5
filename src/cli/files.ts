import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { usageError } from './argv.js'

/** A file to upload, opened before any request so that a missing file is named
 *  as such (not reported as an unreachable daemon halfway through the upload). */
export async function openInput(path: string, what: string): Promise<Readable> {
  try {
    const fh = await open(path, 'r')
    if ((await fh.stat()).isDirectory()) {
      await fh.close()
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
    }
    return fh.createReadStream()
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    throw usageError(`${what}: cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message)}`, what)
  }
}
