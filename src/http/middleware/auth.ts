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

export function bearerFrom(req: { headers: IncomingMessage['headers'] }, url?: URL): string | undefined {
  const h = req.headers.authorization
  if (h?.startsWith('Bearer ')) return h.slice(7).trim()
  // Browsers cannot set headers on a WebSocket: accept the subprotocol or ?token=.
  const proto = req.headers['sec-websocket-protocol']
  if (typeof proto === 'string') {
    for (const p of proto.split(',').map((s) => s.trim())) if (p.startsWith('bearer.')) return p.slice(7)
  }
  return url?.searchParams.get('token') ?? undefined
}

export function authorizeRequest(req: IncomingMessage, token: string): boolean {
  if (isUnixSocket(req)) return true
  return tokenMatches(bearerFrom(req, new URL(req.url ?? '/', 'http://x')), token)
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
      throw new SkiffError('unauthenticated', 'UNAUTHENTICATED', given ? 'invalid token' : 'missing bearer token (Authorization: Bearer <token>)')
    }
    await next()
  }
}
