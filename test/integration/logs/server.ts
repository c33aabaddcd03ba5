// A real HTTP server with the logs routes and WebSocket, over a real LogStore,
// and a job table fed by real containers (no scheduler: that layer is not under test here).
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import type { Server } from 'node:http'
import { onError } from '../../../src/http/errors.js'
import { authorizeUpgrade } from '../../../src/http/middleware/auth.js'
import { attachLogsWebSocket } from '../../../src/http/routes/logs-ws.js'
import { TicketStore } from '../../../src/http/tickets.js'
import { logsRoutes, type LogsRouteDeps } from '../../../src/http/routes/logs.js'
import { silentLogger } from '../../../src/lib/log.js'
import type { LogStore } from '../../../src/logs/index.js'

export type Exit = { exitCode: number | null; signal: string | null; state: string }

export class JobTable {
  readonly #jobs = new Map<string, { state: string; exit: Promise<Exit>; done: (e: Exit) => void }>()
  add(id: string): void {
    let done!: (e: Exit) => void
    const exit = new Promise<Exit>((r) => (done = r))
    this.#jobs.set(id, { state: 'running', exit, done })
  }
  finish(id: string, code: number): void {
    const j = this.#jobs.get(id)!
    j.state = 'exited'
    j.done({ exitCode: code, signal: null, state: 'exited' })
  }
  deps(): LogsRouteDeps['jobs'] {
    return {
      get: (id) => {
        const j = this.#jobs.get(id)
        return j && { id, state: j.state }
      },
      exited: (id) => this.#jobs.get(id)!.exit,
    }
  }
}

export const TOKEN = 'test-token-123'

export async function startLogServer(logs: LogStore, jobs: JobTable, opts: { pingMs?: number; highWaterMark?: number } = {}) {
  const deps: LogsRouteDeps = { logs, jobs: jobs.deps() }
  const tickets = new TicketStore()
  const app = new Hono()
  app.onError(onError(silentLogger))
  app.route('/', logsRoutes(deps))
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  const ws = attachLogsWebSocket(server, {
    ...deps,
    ...opts,
    // the daemon's own rule: Authorization header, or a single-use ticket
    authorize: (req) => authorizeUpgrade(req, TOKEN, tickets),
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    /** what POST /auth/tickets does in the daemon */
    ticket: () => tickets.mint().ticket,
    async close() {
      ws.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}
