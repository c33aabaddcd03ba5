import { createAdaptorServer } from '@hono/node-server'
import type { Hono } from 'hono'
import { chmod, mkdir, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { dirname } from 'node:path'
import { isLoopbackHost, parseListen } from '../config.js'
import { SkiffError } from '../lib/errors.js'

export interface Listeners {
  servers: Server[]
  tcpAddress?: { host: string; port: number }
  close(): Promise<void>
}

/** Serve the app on a unix socket (0660) and/or TCP. `onServer` wires WebSocket upgrades. */
export async function listen(
  app: Hono,
  opts: { socket?: string; listen?: string; allowPublic?: boolean; onServer?: (s: Server) => void },
): Promise<Listeners> {
  const servers: Server[] = []
  let tcpAddress: Listeners['tcpAddress']
  const make = () => {
    const s = createAdaptorServer({ fetch: app.fetch }) as Server
    // Keep-alive connections of benchmark clients must not hold shutdown hostage.
    s.keepAliveTimeout = 5000
    opts.onServer?.(s)
    servers.push(s)
    return s
  }
  if (opts.socket) {
    await mkdir(dirname(opts.socket), { recursive: true })
    await rm(opts.socket, { force: true })
    const s = make()
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(opts.socket, resolve))
    await chmod(opts.socket, 0o660)
  }
  if (opts.listen) {
    const { host, port } = parseListen(opts.listen)
    if (!isLoopbackHost(host) && !opts.allowPublic)
      throw new SkiffError('invalid_argument', 'PUBLIC_LISTEN_REFUSED', `listen: ${host} is not a loopback address; pass --allow-public-listen to expose the API`, { field: 'listen' })
    const s = make()
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, host, resolve))
    const a = s.address()
    if (a && typeof a === 'object') tcpAddress = { host: a.address, port: a.port }
  }
  return {
    servers,
    tcpAddress,
    async close() {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve())
              s.closeAllConnections?.()
            }),
        ),
      )
      if (opts.socket) await rm(opts.socket, { force: true })
    },
  }
}
