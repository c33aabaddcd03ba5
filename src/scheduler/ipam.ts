import { SkiffError } from '../lib/errors.js'

// Pure IPv4 address arithmetic for networks: parse and check subnets, find a
// free one in a pool, pick a container's address. skiff chooses each job's
// address itself (persisted with the job, kept across its restarts) and hands it
// to CNI's host-local, which records the lease: so a job's name→address is
// known before its container exists, and /etc/hosts can be written at create.

export interface Cidr {
  /** network address as an unsigned 32-bit number */
  base: number
  prefix: number
}

const invalid = (field: string, v: string, why: string) => new SkiffError('invalid_argument', 'INVALID_SUBNET', `${field}: ${JSON.stringify(v)} ${why}`, { field })

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s)
  if (!m) return undefined
  const o = m.slice(1).map(Number)
  if (o.some((x) => x > 255)) return undefined
  return ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!
}

export const formatIp = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')

const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

/** "10.77.0.0/16" → {base, prefix}. The address must be the network's own (no host bits),
 *  prefix 8–29 (a /30 leaves no room for a container next to the gateway). */
export function parseCidr(s: string, field = 'subnet'): Cidr {
  const [ip, p, extra] = s.split('/')
  const base = parseIp(ip ?? '')
  if (base === undefined || p === undefined || extra !== undefined || !/^\d{1,2}$/.test(p)) throw invalid(field, s, 'is not an IPv4 CIDR like 10.77.0.0/16')
  const prefix = Number(p)
  if (prefix < 8 || prefix > 29) throw invalid(field, s, 'must have a prefix between /8 and /29')
  if ((base & mask(prefix)) >>> 0 !== base) throw invalid(field, s, `has host bits set (the network is ${formatIp((base & mask(prefix)) >>> 0)}/${prefix})`)
  return { base, prefix }
}

export const formatCidr = (c: Cidr) => `${formatIp(c.base)}/${c.prefix}`
const size = (c: Cidr) => 2 ** (32 - c.prefix)
export const contains = (c: Cidr, ip: number) => ip >= c.base && ip < c.base + size(c)
export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + size(b) && b.base < a.base + size(a)

/** The gateway (on the host bridge): the first address, as docker and podman use. */
export const gatewayOf = (c: Cidr) => formatIp(c.base + 1)

/** Ranges no network may overlap: loopback, link-local, multicast and up. */
const RESERVED = ['127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3', '0.0.0.0/8'].map((s) => {
  const [ip, p] = s.split('/')
  return { base: parseIp(ip!)!, prefix: Number(p) }
})

export interface Route {
  dest: string
  mask: string
  iface: string
}

/** What a subnet would collide with: another network of ours, a reserved range,
 *  or a route of the host (an interface's own network, docker's and podman's
 *  bridges) other than one of our bridges. undefined: free. */
export function subnetConflict(c: Cidr, o: { networks: { name: string; subnet: string }[]; routes: Route[]; ownBridges: string[] }): string | undefined {
  for (const n of o.networks) if (overlaps(c, parseCidr(n.subnet))) return `network ${n.name} (${n.subnet})`
  for (const r of RESERVED) if (overlaps(c, r)) return `the reserved range ${formatCidr(r)}`
  for (const r of o.routes) {
    if (o.ownBridges.includes(r.iface)) continue
    const dest = parseIp(r.dest)
    const m = parseIp(r.mask)
    if (dest === undefined || m === undefined || m === 0) continue // the default route covers everything, as it should
    const prefix = 32 - Math.log2(2 ** 32 - m)
    if (!Number.isInteger(prefix)) continue
    if (overlaps(c, { base: dest, prefix })) return `the host route ${r.dest}/${prefix} on ${r.iface}`
  }
  return undefined
}

/** The first /`prefix` of `pool` that conflicts with nothing, or undefined when the pool is full. */
export function freeSubnet(pool: Cidr, prefix: number, conflict: (c: Cidr) => string | undefined): Cidr | undefined {
  for (let base = pool.base; base + 2 ** (32 - prefix) <= pool.base + size(pool); base += 2 ** (32 - prefix)) {
    const c = { base, prefix }
    if (!conflict(c)) return c
  }
  return undefined
}

/** A container address: the first free host address after `after` (wrapping;
 *  from the start when absent), never the network, gateway or broadcast address.
 *  `taken` holds the addresses in use on the network. */
export function allocateIp(c: Cidr, taken: ReadonlySet<string>, after?: string): string | undefined {
  const first = c.base + 2
  const n = size(c) - 3 // minus network, gateway, broadcast
  const a = after === undefined ? undefined : parseIp(after)
  const start = a !== undefined && a >= first && a < first + n ? a - first + 1 : 0
  for (let k = 0; k < n; k++) {
    const s = formatIp(first + ((start + k) % n))
    if (!taken.has(s)) return s
  }
  return undefined
}

/** /proc/net/route: interface, destination and mask in little-endian hex. */
export function parseProcRoutes(text: string): Route[] {
  const ip = (h: string) => formatIp(Number.parseInt(h.match(/../g)!.reverse().join(''), 16))
  return text.split('\n').slice(1).flatMap((l) => {
    const f = l.trim().split(/\s+/)
    return f.length >= 8 && /^[0-9A-F]{8}$/i.test(f[1]!) && /^[0-9A-F]{8}$/i.test(f[7]!) ? [{ iface: f[0]!, dest: ip(f[1]!), mask: ip(f[7]!) }] : []
  })
}
