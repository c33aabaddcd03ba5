import { SkiffError } from '../lib/errors.js'
import { parseIp } from './ipam.js'

// Pure: docker's -p syntax (https://docs.docker.com/engine/network/#published-ports),
//   [hostIp:][hostPort:]containerPort[/tcp|udp]   and port ranges "8000-8002:80-82", "80-82".
// skiff's default host address is 127.0.0.1, not docker's 0.0.0.0: publishing on every
// interface takes an explicit "0.0.0.0:".

export type Protocol = 'tcp' | 'udp'

/** One published port: hostPort undefined means "any free port". */
export interface PortRequest {
  hostIp: string
  hostPort?: number
  containerPort: number
  protocol: Protocol
}

export const DEFAULT_HOST_IP = '127.0.0.1'
const MAX_RANGE = 1024

const bad = (field: string, spec: string, why: string) => new SkiffError('invalid_argument', 'INVALID_PORT', `${field}: ${JSON.stringify(spec)} ${why}`, { field })

function range(s: string, field: string, spec: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s)
  if (!m) throw bad(field, spec, `has no valid ${what} port`)
  const lo = Number(m[1])
  const hi = m[2] === undefined ? lo : Number(m[2])
  for (const p of [lo, hi]) if (p < 1 || p > 65535) throw bad(field, spec, `${what} port ${p} is not in 1-65535`)
  if (hi < lo) throw bad(field, spec, `${what} port range ${s} ends before it starts`)
  if (hi - lo + 1 > MAX_RANGE) throw bad(field, spec, `${what} port range ${s} is longer than ${MAX_RANGE}`)
  return [lo, hi]
}

/** Parse one -p value. `field` names it in errors (e.g. "ports[2]"). */
export function parsePublish(spec: string, field = 'ports', defaultHostIp = DEFAULT_HOST_IP): PortRequest[] {
  let rest = spec.trim()
  let protocol: Protocol = 'tcp'
  const slash = rest.lastIndexOf('/')
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase()
    if (p !== 'tcp' && p !== 'udp') throw bad(field, spec, `has protocol ${JSON.stringify(p)}; use tcp or udp`)
    protocol = p
    rest = rest.slice(0, slash)
  }
  if (rest.startsWith('[')) throw bad(field, spec, 'is IPv6: skiff networks are IPv4')
  const parts = rest.split(':')
  if (parts.length > 3) throw bad(field, spec, 'has too many ":"; expected [hostIp:][hostPort:]containerPort')
  const [ipPart, hostPart, cPart] = parts.length === 3 ? parts : parts.length === 2 ? [undefined, parts[0], parts[1]] : [undefined, undefined, parts[0]]
  let hostIp = defaultHostIp
  if (ipPart !== undefined) {
    if (parseIp(ipPart) === undefined) throw bad(field, spec, `has host address ${JSON.stringify(ipPart)}, not an IPv4 address`)
    hostIp = ipPart
  }
  const [clo, chi] = range(cPart ?? '', field, spec, 'container')
  if (hostPart === undefined || hostPart === '') return seq(clo, chi).map((containerPort) => ({ hostIp, containerPort, protocol }))
  const [hlo, hhi] = range(hostPart, field, spec, 'host')
  if (hhi - hlo !== chi - clo) throw bad(field, spec, `maps ${hhi - hlo + 1} host ports onto ${chi - clo + 1} container ports`)
  return seq(clo, chi).map((containerPort, i) => ({ hostIp, hostPort: hlo + i, containerPort, protocol }))
}

const seq = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i)

/** Parse a request's whole list; the same host port twice in one request is an error. */
export function parsePorts(specs: readonly string[], field = 'ports', defaultHostIp = DEFAULT_HOST_IP): PortRequest[] {
  const out: PortRequest[] = []
  specs.forEach((s, i) => {
    for (const r of parsePublish(s, `${field}[${i}]`, defaultHostIp)) {
      const dup = r.hostPort !== undefined && out.find((o) => o.hostPort === r.hostPort && o.protocol === r.protocol && sameOrAny(o.hostIp, r.hostIp))
      if (dup) throw bad(`${field}[${i}]`, s, `publishes host port ${r.hostPort}/${r.protocol} twice`)
      out.push(r)
    }
  })
  return out
}

/** Two bindings of one port collide on the same address, or when either is every address. */
export const sameOrAny = (a: string, b: string) => a === b || a === '0.0.0.0' || b === '0.0.0.0'

/** docker's `docker port` lines: "80/tcp -> 127.0.0.1:32768". */
export const formatMapping = (m: { hostIp: string; hostPort: number; containerPort: number; protocol: string }) => `${m.containerPort}/${m.protocol} -> ${m.hostIp}:${m.hostPort}`
