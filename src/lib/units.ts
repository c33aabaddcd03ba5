import { invalidArgument } from './errors.js'

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1024, kib: 1024,
  m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4,
}

/** docker-style sizes: 256m, 1g, 512k, 1048576 (binary units, like docker). */
export function parseBytes(input: string | number, field = 'size'): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw invalidArgument(field, `must be a non-negative integer, got ${input}`)
    return input
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input)
  const mult = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || mult === undefined) throw invalidArgument(field, `invalid size ${JSON.stringify(input)} (use e.g. 256m, 1g)`)
  return Math.round(Number(m[1]) * mult)
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Go-style durations: 30s, 1m30s, 500ms, 2h; a bare number is seconds. */
export function parseDuration(input: string | number, field = 'duration'): number {
  if (typeof input === 'number') {
    if (!(input >= 0) || !Number.isFinite(input)) throw invalidArgument(field, `must be a non-negative number of seconds, got ${input}`)
    return Math.round(input * 1000)
  }
  const s = input.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let pos = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s))) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!
    pos = re.lastIndex
  }
  if (pos !== s.length || s.length === 0) throw invalidArgument(field, `invalid duration ${JSON.stringify(input)} (use e.g. 30s, 1m30s, 500ms)`)
  return Math.round(total)
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}
