import fc from 'fast-check'

// Requests generated from the API's own description (/openapi.json): a valid
// value for a JSON schema (as zod's toJSONSchema writes them), and mutations of
// it that a careless or hostile client sends. fast-check has no JSON-schema
// support of its own, so this is the small subset skiff's schemas use.

type Schema = Record<string, any>

const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '../../../../etc/passwd', '..%2f..%2fetc%2fpasswd', '/etc/shadow', '..\\..\\windows', '%00', '%',
  '__proto__', 'constructor', 'prototype', 'toString', '\ud800', '\u202e\u0041', '😀'.repeat(50), 'ǅ\u0301\u0308', '${jndi:x}', '$(id)', '`id`',
  '\r\nX-Injected: 1', '<script>', "' OR 1=1 --", 'null', 'true', '-1', '1e309', 'NaN', '0x10', '9'.repeat(400),
]
const HOSTILE_NUMBERS = [0, -1, -0, 1.5, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER]

export const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((n) => 'a'.repeat(n)) },
)
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.integer({ min: 10, max: 3000 }).map((depth) => deep(depth)),
  fc.constant({ __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } }),
  fc.array(fc.integer(), { maxLength: 5 }),
)

function deep(n: number): unknown {
  let v: unknown = 'bottom'
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v }
  return v
}

/** A valid value for `s` (as far as the schema says: patterns are honoured only by their examples). */
export function valid(s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!s || depth > 6) return fc.constant(undefined)
  if (s.const !== undefined) return fc.constant(s.const)
  if (s.enum) return fc.constantFrom(...(s.enum as unknown[]))
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined
  if (alts) return fc.oneof(...alts.map((a) => valid(a, depth + 1)))
  switch (s.type) {
    case 'string': {
      if (s.format === 'date-time') return fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
      const min = s.minLength ?? 0
      return fc.oneof(fc.constantFrom('x', 'job-1', 'a.b_c', '1'), fc.string({ minLength: min, maxLength: Math.min(s.maxLength ?? 20, 20) })).filter((v) => v.length >= min)
    }
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1000, -1e6), max: Math.min(s.maximum ?? 1000, 1e6) })
    case 'number':
      return fc.double({ min: Math.max(s.minimum ?? -1000, -1e6), max: Math.min(s.maximum ?? 1000, 1e6), noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(valid(s.items, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) })
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required = new Set<string>(s.required ?? [])
      const rec: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, p] of Object.entries(props)) rec[k] = valid(p, depth + 1)
      const obj = fc.record(rec, { requiredKeys: [...required].filter((k) => k in rec) })
      if (!Object.keys(props).length && s.additionalProperties && typeof s.additionalProperties === 'object')
        return fc.dictionary(fc.constantFrom('A', 'KEY', 'x'), valid(s.additionalProperties, depth + 1), { maxKeys: 3 })
      return obj
    }
    default:
      return fc.anything({ maxDepth: 2 })
  }
}

/** One mutation of a (valid) value: a field of the wrong type or hostile, a
 *  required field missing, an unknown (or prototype) key, or a whole body that
 *  is something else entirely. */
export function mutate(v: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(v)
  const at = (p: string[], f: (parent: any, key: string) => void) => {
    const copy = structuredClone(v)
    if (!p.length) return copy
    let cur: any = copy
    for (const k of p.slice(0, -1)) cur = cur[k]
    f(cur, p[p.length - 1]!)
    return copy
  }
  const options: fc.Arbitrary<unknown>[] = [hostileValue, fc.constant(undefined)]
  if (paths.length) {
    options.push(
      fc.tuple(fc.constantFrom(...paths), hostileValue).map(([p, x]) => at(p, (o, k) => (o[k] = x))),
      fc.constantFrom(...paths).map((p) => at(p, (o, k) => delete o[k])),
    )
  }
  if (v && typeof v === 'object' && !Array.isArray(v))
    options.push(fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', 'prototype', ''), hostileValue).map(([k, x]) => ({ ...(v as object), [k]: x })))
  return fc.oneof(...options)
}

function pathsOf(v: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (out.length > 50 || !v || typeof v !== 'object') return out
  for (const [k, x] of Object.entries(v)) {
    out.push([...prefix, k])
    pathsOf(x, [...prefix, k], out)
  }
  return out
}
