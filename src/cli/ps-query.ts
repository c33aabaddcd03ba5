import { usageError } from './argv.js'

/** What `skiff ps` asks GET /jobs for, from its flags. Pure (table tests in
 *  test/unit/cli/ps.test.ts).
 *  - without -a: the active states (docker ps shows restarting containers too);
 *  - a status filter implies all states (docker: `ps -f status=exited` needs no -a);
 *    several status filters are OR-ed, as docker does; docker's names for states
 *    skiff calls otherwise are accepted (created → queued, restarting → backoff);
 *  - -n N / -l: the N newest in any state; -a alone: every page (the cursor is followed). */
export interface PsQuery {
  params: URLSearchParams
  /** at most this many rows (-n/-l), else every page */
  max: number | undefined
}

export const ACTIVE_STATES = ['queued', 'pulling', 'starting', 'running', 'backoff']
const DOCKER_STATES: Record<string, string> = { created: 'queued', restarting: 'backoff', dead: 'failed' }
const FILTERS = ['status', 'name', 'label']

export function psQuery(f: { all?: boolean; filter?: string[]; last?: string; latest?: boolean }): PsQuery {
  const params = new URLSearchParams()
  const states: string[] = []
  let name: string | undefined
  for (const flt of f.filter ?? []) {
    const eq = flt.indexOf('=')
    const k = eq > 0 ? flt.slice(0, eq) : flt
    const v = eq > 0 ? flt.slice(eq + 1) : ''
    if (!FILTERS.includes(k)) throw usageError(`-f/--filter: unknown filter ${JSON.stringify(k)} (${FILTERS.map((x) => x + '=…').join(', ')})`, 'filter')
    if (!v) throw usageError(`-f/--filter: ${k}= needs a value`, 'filter')
    if (k === 'status') states.push(...v.split(',').map((s) => DOCKER_STATES[s] ?? s))
    else if (k === 'name') {
      if (name !== undefined && name !== v) throw usageError('-f/--filter: one name= at a time (names are exact)', 'filter')
      name = v
    } else params.append('label', v)
  }
  let max: number | undefined
  if (f.latest) max = 1
  if (f.last !== undefined) {
    const n = Number(f.last)
    if (!Number.isInteger(n)) throw usageError(`-n/--last: expected a number, got ${JSON.stringify(f.last)}`, 'last')
    // docker: -n -1 (its default) means no limit
    if (n >= 0) max = n
  }
  const all = f.all || max !== undefined
  if (states.length) params.set('state', [...new Set(states)].join(','))
  else if (!all) params.set('state', ACTIVE_STATES.join(','))
  if (name !== undefined) params.set('name', name)
  return { params, max }
}

/** Page size for the next request: the rest of -n's rows, else the daemon's default. */
export function nextLimit(max: number | undefined, have: number): number | undefined {
  return max === undefined ? undefined : Math.min(1000, Math.max(1, max - have))
}
