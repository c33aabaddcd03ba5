import type { Readable } from 'node:stream'
import { tooLarge } from '../errors.js'

/** Read a small response body into memory, failing (and destroying the stream) past `max`. */
export async function readCapped(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of body) {
    n += (c as Buffer).length
    if (n > max) {
      body.destroy()
      throw tooLarge(what, max)
    }
    chunks.push(c as Buffer)
  }
  return Buffer.concat(chunks)
}
