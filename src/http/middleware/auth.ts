import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { MiddlewareHandler } from 'hono'
import { SkiffError } from '../../lib/errors.js'

const digest = (s: string) => createHash('sha256').update(s).digest()

/** Constant-time comparison: hashing first makes both sides the same length. */
export function tokenMatches(given: string | undefined, want: string): boolean {
  if (!given) return false
  return timingSafeEqual(digest(given), digest(want))
}

/** Requests over the unix socket are trusted (guarded by the socket's file mode);
 *  TCP requests must carry the token. */
export function isUnixSocket(req: IncomingMessage): boolean {
  return req.socket.remoteAddress === undefined && req.socket.remotePort === undefined
}

/** The long-lived token travels in the Authorization header only: a token in a
 *  URL ends up in shell history, proxy and access logs. */
export function bearerFrom(req: { headers: IncomingMessage['headers'] }): string | undefined {
  const h = req.headers.authorization
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined
}

/** A WebSocket ticket (POST /auth/tickets): `?ticket=` or the subprotocol
 *  `ticket.<t>` — what a browser can send on an upgrade. */
export function ticketFrom(req: { headers: IncomingMessage['headers'] }, url: URL): string | undefined {
  const proto = req.headers['sec-websocket-protocol']
  if (typeof proto === 'string') {
    for (const p of proto.split(',').map((s) => s.trim())) if (p.startsWith('ticket.')) return p.slice(7)
  }
  return url.searchParams.get('ticket') ?? undefined
}

/** An HTTP request: the unix socket, or the token in the Authorization header. */
export function authorizeRequest(req: IncomingMessage, token: string): boolean {
  if (isUnixSocket(req)) return true
  return tokenMatches(bearerFrom(req), token)
}

/** A WebSocket upgrade: as HTTP, or a single-use ticket (spent by this call). */
export function authorizeUpgrade(req: IncomingMessage, token: string, tickets: { redeem(t: string | undefined): boolean }): boolean {
  if (authorizeRequest(req, token)) return true
  return tickets.redeem(ticketFrom(req, new URL(req.url ?? '/', 'http://x')))
}

// Public without a token: liveness, and the API's description (the same text as in the
// source tree) with its static viewer, so a browser can open /docs and then authorize.
const OPEN_PATHS = new Set(['/healthz', '/openapi.json', '/docs'])
const isOpen = (path: string) => OPEN_PATHS.has(path) || path.startsWith('/docs/')

export function auth(token: () => string): MiddlewareHandler<{ Bindings: { incoming: IncomingMessage } }> {
  return async (c, next) => {
    const incoming = c.env?.incoming
    if (!incoming) throw new SkiffError('unauthenticated', 'UNAUTHENTICATED', 'no connection information')
    if (!isOpen(c.req.path) && !authorizeRequest(incoming, token())) {
      const given = bearerFrom(incoming)
      const inQuery = new URL(incoming.url ?? '/', 'http://x').searchParams.has('token')
      throw new SkiffError('unauthenticated', 'UNAUTHENTICATED', given ? 'invalid token' : inQuery ? 'the token is accepted only in the Authorization header (Authorization: Bearer <token>), never in the URL' : 'missing bearer token (Authorization: Bearer <token>)')
    }
    await next()
  }
}
