// Pure: the /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets,
// generated per container and bind-mounted over the image's, as docker and
// podman do (the image's own files are never edited).

export interface HostEntry {
  ip: string
  names: string[]
}

const LOCALHOST: HostEntry[] = [
  { ip: '127.0.0.1', names: ['localhost'] },
  { ip: '::1', names: ['localhost', 'ip6-localhost', 'ip6-loopback'] },
]

export const hostnameFile = (hostname: string) => `${hostname}\n`

/** localhost, then the container's own names on its addresses (on 127.0.1.1, the
 *  Debian convention, when it has none: network none or host), then peers. A name
 *  appears once, on its first line: a peer never shadows the container itself. */
export function hostsFile(self: { names: string[]; ips: string[] }, peers: readonly HostEntry[] = []): string {
  const own = self.ips.length ? self.ips.map((ip) => ({ ip, names: self.names })) : [{ ip: '127.0.1.1', names: self.names }]
  const seen = new Set(['localhost', ...self.names])
  const rest = peers.flatMap((e) => {
    const names = e.names.filter((n) => n && !seen.has(n))
    for (const n of names) seen.add(n)
    return names.length ? [{ ip: e.ip, names }] : []
  })
  return [...LOCALHOST, ...own, ...rest].map((e) => `${e.ip}\t${e.names.join(' ')}\n`).join('')
}

const LOOPBACK_NS = /^\s*nameserver\s+(127\.\S*|::1|0\.0\.0\.0)\s*$/

/** The host's resolv.conf for a container. In the host's netns (mode host) it
 *  works as is. In a netns of its own, a loopback nameserver (systemd-resolved's
 *  127.0.0.53, a local dnsmasq) would be the container's own loopback: drop those
 *  lines, and with no nameserver left use `fallback` (docker's rule; skiff's
 *  fallback is the network's gateway or nothing). */
export function resolvConf(hostText: string | undefined, o: { ownNetns: boolean; nameservers?: readonly string[]; fallback?: readonly string[] }): string {
  let lines = (hostText ?? '').split('\n').filter((l) => l.trim() !== '')
  if (o.nameservers?.length) lines = [...o.nameservers.map((n) => `nameserver ${n}`), ...lines.filter((l) => !/^\s*nameserver\s/.test(l))]
  else if (o.ownNetns) {
    lines = lines.filter((l) => !LOOPBACK_NS.test(l))
    if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines = [...(o.fallback ?? []).map((n) => `nameserver ${n}`), ...lines]
  }
  return lines.length ? lines.join('\n') + '\n' : ''
}
