import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { Hono } from 'hono'
import { SkiffError } from '../../lib/errors.js'

// Swagger UI served from the daemon itself (swagger-ui-dist, the Swagger
// project's own build): /docs works on an air-gapped host, and no page of the
// daemon loads a script from elsewhere.

/** The files /docs needs, by the name it asks for them. Nothing else is served. */
export const DOCS_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-init.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
}

const DIST = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))

// A file rather than an inline script, so a Content-Security-Policy of 'self' can cover the page.
const INIT = `window.onload = () => {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true })
}
`

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skiff API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
`

const HEADERS = { 'x-content-type-options': 'nosniff' }

export function docsRoutes() {
  const cache = new Map<string, Promise<Buffer>>()
  const asset = (name: string) => {
    let p = cache.get(name)
    if (!p) {
      p = name === 'swagger-init.js' ? Promise.resolve(Buffer.from(INIT)) : readFile(join(DIST, name))
      p.catch(() => cache.delete(name))
      cache.set(name, p)
    }
    return p
  }
  return new Hono()
    .get('/docs', (c) => c.html(PAGE, 200, HEADERS))
    .get('/docs/:file', async (c) => {
      const file = c.req.param('file')
      const type = Object.hasOwn(DOCS_ASSETS, file) ? DOCS_ASSETS[file] : undefined
      if (!type) throw new SkiffError('not_found', 'ROUTE_NOT_FOUND', `no route for GET ${c.req.path}`)
      const body = await asset(file)
      return c.body(new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength), 200, { ...HEADERS, 'content-type': type, 'cache-control': 'public, max-age=86400' })
    })
}
