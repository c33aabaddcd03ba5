import { Hono } from 'hono'
import { SkiffError } from '../../lib/errors.js'
import type { ApiDeps } from '../deps.js'
import { openApiDocument } from '../openapi.js'
import { docsRoutes } from './docs.js'

export function systemRoutes(d: ApiDeps, version: string) {
  // built at the first request: the document is ~1 MB of objects a daemon rarely serves
  let doc: ReturnType<typeof openApiDocument> | undefined
  return new Hono()
    .get('/healthz', (c) => c.json({ ok: true }))
    .get('/metrics', async (c) => c.text(await d.metrics.registry.metrics(), 200, { 'Content-Type': d.metrics.registry.contentType }))
    .get('/openapi.json', (c) => c.json((doc ??= openApiDocument(version))))
    .route('/', docsRoutes())
    // authenticated like every route: the ticket stands in for the token on ONE WebSocket upgrade
    .post('/auth/tickets', (c) => {
      if (!d.tickets) throw new SkiffError('not_found', 'ROUTE_NOT_FOUND', 'no route for POST /auth/tickets')
      const { ticket, expiresAt } = d.tickets.mint()
      return c.json({ ticket, expiresAt: expiresAt.toISOString(), ttlSeconds: d.tickets.ttlMs / 1000 }, 201)
    })
}
