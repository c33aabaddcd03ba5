import { sameOrAny, type PortRequest, type Protocol } from './publish.js'

// Pure: which host port each published port of a job gets. A port asked for by
// number is that port or a conflict naming its holder; "any free port" is the
// first one at or after `start` (wrapping) in `range` that no live job holds and
// the host has not refused (`excluded`: ports a bind found taken by some other
// process). The caller persists the answer before it acts on it.

export interface HeldPort {
  jobId: string
  hostIp: string
  hostPort: number
  protocol: Protocol
}

export interface Allocated {
  hostIp: string
  hostPort: number
  containerPort: number
  protocol: Protocol
}

export type Allocation =
  | { ok: true; ports: Allocated[] }
  | { ok: false; request: PortRequest; holder: HeldPort }
  | { ok: false; request: PortRequest; exhausted: true }

export interface AllocOptions {
  /** where free ports come from: Linux's ephemeral range by default (docker's choice) */
  range: [number, number]
  /** where the search for a free port starts (the caller picks it at random, so that
   *  a port just released is not handed out again at once) */
  start: number
  excluded?: ReadonlyArray<{ hostIp: string; hostPort: number; protocol: Protocol }>
}

export const DEFAULT_PORT_RANGE: [number, number] = [32768, 60999]

export function allocatePorts(requests: readonly PortRequest[], held: readonly HeldPort[], o: AllocOptions): Allocation {
  // jobId '' = held outside skiff (an excluded port)
  const taken: HeldPort[] = [...held, ...(o.excluded ?? []).map((e) => ({ ...e, jobId: '' }))]
  const busy = (ip: string, port: number, proto: Protocol) => taken.find((t) => t.hostPort === port && t.protocol === proto && sameOrAny(t.hostIp, ip))
  // fixed ports first: an automatic one must not take a port asked for by number
  const order = [...requests.keys()].sort((a, b) => Number(requests[a]!.hostPort === undefined) - Number(requests[b]!.hostPort === undefined))
  const result: (Allocated | undefined)[] = []
  for (const i of order) {
    const r = requests[i]!
    let port = r.hostPort
    if (port !== undefined) {
      const h = busy(r.hostIp, port, r.protocol)
      if (h) return { ok: false, request: r, holder: h }
    } else {
      const [lo, hi] = o.range
      const n = hi - lo + 1
      const first = Math.min(Math.max(o.start, lo), hi) - lo
      for (let k = 0; k < n && port === undefined; k++) {
        const p = lo + ((first + k) % n)
        if (!busy(r.hostIp, p, r.protocol)) port = p
      }
      if (port === undefined) return { ok: false, request: r, exhausted: true }
    }
    const a = { hostIp: r.hostIp, hostPort: port, containerPort: r.containerPort, protocol: r.protocol }
    taken.push({ ...a, jobId: '' })
    result[i] = a
  }
  return { ok: true, ports: result as Allocated[] }
}
