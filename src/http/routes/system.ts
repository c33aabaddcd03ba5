import { Hono } from 'hono'
import type { ApiDeps } from '../deps.js'
import { openApiDocument } from '../openapi.js'
import { docsRoutes } from './docs.js'

export function systemRoutes(d: ApiDeps, version: string) {
  const doc = openApiDocument(version)
  return new Hono()
    .get('/healthz', (c) => c.json({ ok: true }))
    .get('/metrics', async (c) => c.text(await d.metrics.registry.metrics(), 200, { 'Content-Type': d.metrics.registry.contentType }))
    .get('/openapi.json', (c) => c.json(doc))
    .route('/', docsRoutes())
}
