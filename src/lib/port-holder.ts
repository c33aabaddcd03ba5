import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { createSocket, type Socket } from 'node:dgram'

/** Pure: the socket inodes bound to `port` in /proc/net/{tcp,udp} (TCP: listening only). */
export function socketInodes(procNet: string, port: number, proto: 'tcp' | 'udp'): string[] {
  return procNet.split('\n').slice(1).flatMap((l) => {
    const f = l.trim().split(/\s+/)
    if (f.length < 10) return []
    const local = Number.parseInt(f[1]!.split(':')[1] ?? '', 16)
    const listening = proto === 'udp' || f[3] === '0A'
    return local === port && listening ? [f[9]!] : []
  })
}

/** Who holds a host port: "pid 123 (nginx)", or undefined when it cannot be told
 *  (another network namespace, a process we may not inspect). Reads /proc: only
 *  called on the error path. */
export function portHolder(port: number, proto: 'tcp' | 'udp'): string | undefined {
  let inodes: string[] = []
  try {
    inodes = socketInodes(readFileSync(`/proc/net/${proto}`, 'utf8'), port, proto)
  } catch {
    return undefined
  }
  if (!inodes.length) return undefined
  const want = new Set(inodes.map((i) => `socket:[${i}]`))
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if (want.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
          return `pid ${pid} (${comm})`
        }
      } catch {
        /* gone */
      }
    }
  }
  return undefined
}

export interface PortReservation {
  close(): void
}

/** Hold a host port so that no other program can bind it while a job publishes it
 *  (docker's proxy and podman's conmon do the same). Connections never reach it:
 *  the CNI portmap DNAT rules rewrite them first; one that does is dropped.
 *  Rejects with the bind error (EADDRINUSE, EACCES) when the port is taken. */
export function reservePort(hostIp: string, port: number, proto: 'tcp' | 'udp'): Promise<PortReservation> {
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const s: Socket = createSocket({ type: 'udp4' })
      s.once('error', reject)
      s.bind({ address: hostIp, port, exclusive: true }, () => {
        s.removeListener('error', reject)
        s.on('error', () => {})
        s.unref()
        resolve({ close: () => s.close() })
      })
      return
    }
    const srv: Server = createServer((c) => c.destroy())
    srv.once('error', reject)
    srv.listen({ host: hostIp, port, exclusive: true, backlog: 1 }, () => {
      srv.removeListener('error', reject)
      srv.on('error', () => {})
      srv.unref()
      resolve({ close: () => srv.close() })
    })
  })
}
