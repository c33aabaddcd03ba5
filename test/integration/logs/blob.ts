import { createHash } from 'node:crypto'

/** `n` pseudo-random bytes from a seed (xorshift32): same bytes, same checksum, every run. */
export function pseudoRandom(n: number, seed = 0x9e3779b9): Buffer {
  const words = new Uint32Array(Math.ceil(n / 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  return Buffer.from(words.buffer, 0, n)
}

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
