import { constants } from 'node:os'
import { invalidArgument } from './errors.js'

// Linux's signals: the named ones (signal(7)) and the real-time range.
// glibc reserves 32 and 33 for its threads, so SIGRTMIN is 34 as kill -l shows.
const NAMED = constants.signals as Record<string, number>
export const SIGRTMIN = 34
export const SIGRTMAX = 64

export interface Signal {
  /** canonical name: SIGTERM, SIGRTMIN+3 */
  name: string
  number: number
}

function rtName(n: number): string {
  if (n === SIGRTMIN) return 'SIGRTMIN'
  if (n === SIGRTMAX) return 'SIGRTMAX'
  return n - SIGRTMIN <= (SIGRTMAX - SIGRTMIN) / 2 ? `SIGRTMIN+${n - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - n}`
}

/** The signal's canonical form for a number 1–64. */
export function signalOf(n: number): Signal | undefined {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX || n === 32 || n === 33) return undefined
  const name = Object.entries(NAMED).find(([, v]) => v === n)?.[0]
  return { name: name ?? rtName(n), number: n }
}

/** Pure: docker's forms — "SIGTERM", "TERM", "term", "15", 15, "RTMIN+2", "SIGRTMAX-1" —
 *  to a signal Linux has; anything else is a 400 naming `field`. */
export function parseSignal(input: string | number, field = 'signal'): Signal {
  const bad = () => invalidArgument(field, `unknown signal ${JSON.stringify(input)} (use a name like SIGTERM or a number 1-64)`)
  if (typeof input === 'number' || /^\d+$/.test(input)) return signalOf(Number(input)) ?? (() => { throw bad() })()
  const s = input.trim().toUpperCase()
  const name = s.startsWith('SIG') ? s : `SIG${s}`
  if (NAMED[name] !== undefined) return signalOf(NAMED[name]!)!
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name)
  if (rt) {
    const off = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '+' ? 1 : -1)
    const n = (rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX) + off
    if (n >= SIGRTMIN && n <= SIGRTMAX) return signalOf(n)!
  }
  throw bad()
}
