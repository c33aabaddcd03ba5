import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

// Per-test network names: other workers run tests on this host at the same time,
// so every bridge, subnet and netns a test makes carries its own random part, and
// leftover checks look only at those.

const routes = () =>
  readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/)
    const n = (h: string) => Number.parseInt(h, 16)
    // little-endian hex
    const ip = (h: string) => [0, 2, 4, 6].map((i) => n(h.slice(6 - i, 8 - i))).join('.')
    return { dest: ip(f[1]!), mask: ip(f[7]!), iface: f[0]! }
  })

/** A /24 inside 10.200.0.0–10.249.255.0 that no route of this host covers. */
export function testSubnet(): { subnet: string; gateway: string; prefix: string } {
  const taken = new Set(routes().map((r) => r.dest.split('.').slice(0, 3).join('.')))
  for (;;) {
    const b = randomBytes(2)
    const prefix = `10.${200 + (b[0]! % 50)}.${b[1]!}`
    if (!taken.has(prefix) && !taken.has(`10.${prefix.split('.')[1]}.0`)) return { subnet: `${prefix}.0/24`, gateway: `${prefix}.1`, prefix }
  }
}

export const testBridge = () => `skt${randomBytes(4).toString('hex')}`.slice(0, 15)

/** Everything of one test network on the host: links whose name or master is the
 *  bridge, and iptables rules that mention its subnet prefix or the given ids. */
export function networkTraces(o: { bridge: string; prefix: string; ids?: string[] }): { links: string[]; rules: string[] } {
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(` ${o.bridge}:`) || l.includes(`master ${o.bridge} `))
  const save = execFileSync('iptables-save', { encoding: 'utf8' })
  const esc = o.prefix.replace(/\./g, '\\.')
  const rules = save.split('\n').filter((l) => new RegExp(`${esc}\\.`).test(l) || (o.ids ?? []).some((id) => l.includes(`id: \\"${id}\\"`)))
  return { links: links.map((l) => l.split(':')[1]!.trim()), rules }
}

/** Remove a test bridge (the CNI bridge plugin never deletes one). */
export function removeBridge(bridge: string): void {
  try {
    execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' })
  } catch {
    /* gone */
  }
}

/** Daemon env for a test daemon with its own default bridge, default subnet and pool
 *  (the pool: a random /20 no route covers, user networks get /24s of it). */
export function testNetworkEnv(): { env: Record<string, string>; bridge: string; subnet: ReturnType<typeof testSubnet>; poolPrefix: string } {
  const subnet = testSubnet()
  let pool = testSubnet()
  // a /20 at a 16-aligned third octet, not holding the default subnet
  for (;;) {
    const [a, b, c] = pool.prefix.split('.').map(Number)
    const third = c! - (c! % 16)
    const sub = subnet.prefix.split('.').map(Number)
    if (!(sub[1] === b && sub[2]! >= third && sub[2]! < third + 16)) {
      const bridge = testBridge()
      return { env: { SKIFF_DEFAULT_BRIDGE: bridge, SKIFF_DEFAULT_SUBNET: subnet.subnet, SKIFF_NETWORK_POOL: `${a}.${b}.${third}.0/20` }, bridge, subnet, poolPrefix: `${a}.${b}.` }
    }
    pool = testSubnet()
  }
}
