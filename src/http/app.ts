import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { routePath } from 'hono/route'
import { SkiffError } from '../lib/errors.js'
import type { ApiDeps } from './deps.js'
import { onError } from './errors.js'
import { auth } from './middleware/auth.js'
import { imagesRoutes } from './routes/images.js'
import { jobsRoutes } from './routes/jobs.js'
import { networksRoutes } from './routes/networks.js'
import { logsRoutes } from './routes/logs.js'
import { schedulesRoutes } from './routes/schedules.js'
import { systemRoutes } from './routes/system.js'

export const VERSION = '0.1.0'

/** Compose the API. No I/O of its own: everything comes through deps. Every
 *  HTTP route is mounted here (and listed in OPERATIONS, openapi.ts: the
 *  test/unit/http/openapi-routes.test.ts fails when the two disagree). */
export function createApp(d: ApiDeps, extra: Hono[] = []) {
  const app = new Hono()
  app.onError(onError(d.log))
  app.notFound((c) => c.json({ error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` } }, 404))
  app.use(async (c, next) => {
    const t0 = performance.now()
    await next()
    d.metrics.httpDuration.observe({ method: c.req.method, route: routePath(c), status: String(c.res.status) }, (performance.now() - t0) / 1000)
  })
  app.use(auth(d.token))
  app.use(async (c, next) => {
    // Archives (load/import) and stdin are streamed and may be large; everything else is capped.
    if (c.req.path === '/images/load' || c.req.path === '/images/import' || /^\/jobs\/[^/]+\/stdin\/?$/.test(c.req.path)) return next()
    return bodyLimit({
      maxSize: d.bodyLimit,
      onError: (c) => {
        // The rest of the body is unread: this connection cannot carry another
        // request, and a keep-alive client reusing it would see ECONNRESET.
        c.header('Connection', 'close')
        throw new SkiffError('payload_too_large', 'BODY_TOO_LARGE', `body: larger than ${d.bodyLimit} bytes`, { field: 'body' })
      },
    })(c, next)
  })
  app.route('/', systemRoutes(d, VERSION))
  app.route('/', jobsRoutes(d))
  app.route('/', imagesRoutes(d))
  app.route('/', networksRoutes(d))
  if (d.logRoutes) app.route('/', logsRoutes(d.logRoutes))
  if (d.schedules) app.route('/', schedulesRoutes({ schedules: d.schedules }))
  for (const r of extra) app.route('/', r)
  return app
}
