import { describe, expect, it } from 'vitest'
import { createApp } from '../../../src/http/app.js'
import { OPERATIONS, openApiDocument } from '../../../src/http/openapi.js'
import { WS_ROUTES } from '../../../src/http/routes/logs-ws.js'

// The routes are written once in src/http/routes/*.ts and described once in
// OPERATIONS (src/http/openapi.ts). This ties the two: a route the app mounts
// must be in the document, and an operation in the document must be mounted.
// Adding a route: add its Op to OPERATIONS (WebSocket routes: to WS_ROUTES and
// an Op with ws: true).

/** Deps that answer anything: route factories must not call their deps while the
 *  app is composed (only when a request comes), so this builds the real app. */
const anything: any = new Proxy(function () {}, { get: (_t, k) => (k === 'then' ? undefined : anything), apply: () => anything })

/** Hono's '/jobs/:id' and '/images/:ref{.+}' → OpenAPI's '/jobs/{id}', '/images/{ref}'. */
const toTemplate = (p: string) => p.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')

/** Routes that are no API operation, with the reason. */
const NOT_OPERATIONS: Record<string, string> = {}

function mounted(): Set<string> {
  const app = createApp(anything)
  const set = new Set<string>()
  for (const r of app.routes) if (r.method !== 'ALL') set.add(`${r.method} ${toTemplate(r.path)}`)
  for (const p of Object.values(WS_ROUTES)) set.add(`GET ${p}`)
  return set
}

const documented = () => new Set(OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`))

describe('the OpenAPI document and the routes', () => {
  it('documents every route the app mounts', () => {
    const docs = documented()
    const missing = [...mounted()].filter((r) => !docs.has(r) && !(r in NOT_OPERATIONS))
    expect(missing, `routes missing from OPERATIONS in src/http/openapi.ts: ${missing.join(', ')}`).toEqual([])
  })

  it('documents no route that does not exist', () => {
    const routes = mounted()
    const extra = [...documented()].filter((r) => !routes.has(r))
    expect(extra, `OPERATIONS lists routes the app does not mount: ${extra.join(', ')}`).toEqual([])
  })

  it('marks the WebSocket routes, with a 101 answer', () => {
    const doc = openApiDocument('test')
    for (const p of Object.values(WS_ROUTES)) {
      const op = doc.paths[p]?.get as Record<string, any> | undefined
      expect(op, p).toBeDefined()
      expect(op!['x-websocket'], p).toBe(true)
      expect(Object.keys(op!.responses), p).toContain('101')
    }
  })

  it('has unique operation ids', () => {
    const ids = Object.values(openApiDocument('test').paths).flatMap((ops) => Object.values(ops).map((o) => (o as { operationId: string }).operationId))
    expect(new Set(ids).size).toBe(ids.length)
  })
})
