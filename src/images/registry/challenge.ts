// WWW-Authenticate parsing (RFC 7235 §4.1 and the docker token spec,
// distribution/docs/spec/auth/token.md): `Bearer realm="…",service="…",scope="…"` or
// `Basic realm="…"`. Several challenges may share one header, separated by commas.
export interface Challenge {
  scheme: string // lowercased: 'basic' | 'bearer' | …
  params: Record<string, string> // keys lowercased
}

/** Parse a WWW-Authenticate header value into its challenges. Pure; never throws. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return []
  const values = Array.isArray(header) ? header : [header]
  const out: Challenge[] = []
  for (const v of values) {
    let i = 0
    const s = v
    let cur: Challenge | undefined
    const skipWs = () => {
      while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++
    }
    while (i < s.length) {
      skipWs()
      const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(s.slice(i))
      if (!m) break
      const tok = m[0]
      i += tok.length
      let j = i
      while (j < s.length && s[j] === ' ') j++
      if (s[j] === '=' && cur) {
        // auth-param
        i = j + 1
        while (i < s.length && s[i] === ' ') i++
        let val = ''
        if (s[i] === '"') {
          i++
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\' && i + 1 < s.length) i++
            val += s[i++]
          }
          i++
        } else {
          const t = /^[^,\s]*/.exec(s.slice(i))![0]
          val = t
          i += t.length
        }
        cur.params[tok.toLowerCase()] = val
      } else {
        cur = { scheme: tok.toLowerCase(), params: {} }
        out.push(cur)
      }
    }
  }
  return out
}
