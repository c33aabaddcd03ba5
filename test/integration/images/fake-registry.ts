import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { BuiltImage } from '../../fixtures/images.js'

export interface FakeRegistry {
  host: string
  requests: { method: string; url: string; headers: IncomingMessage['headers'] }[]
  close(): Promise<void>
}
/** Return true when handled; otherwise the default registry behaviour runs. */
export type Hook = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>

/** A scripted registry on 127.0.0.x:<port> (node:http) serving `images` under repo "x/<name>",
 *  with hooks to misbehave. */
export async function fakeRegistry(images: Record<string, BuiltImage>, hook?: Hook, addr = '127.0.0.1'): Promise<FakeRegistry> {
  const blobs = new Map<string, Buffer>()
  const manifests = new Map<string, { body: Buffer; mt: string }>()
  for (const [name, img] of Object.entries(images)) {
    for (const l of img.layers) blobs.set(l.digest, l.blob)
    blobs.set(img.configDigest, img.config)
    manifests.set(`x/${name}:latest`, { body: img.manifest, mt: img.manifestMediaType })
    manifests.set(`x/${name}:${img.manifestDigest}`, { body: img.manifest, mt: img.manifestMediaType })
  }
  const requests: FakeRegistry['requests'] = []
  const sockets = new Set<import('node:net').Socket>()
  const server: Server = createServer(async (req, res) => {
    requests.push({ method: req.method!, url: req.url!, headers: req.headers })
    if (hook && (await hook(req, res))) return
    const url = req.url!
    if (url === '/v2/') return void res.writeHead(200).end('{}')
    let m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url)
    if (m) {
      const hit = manifests.get(`${m[1]}:${m[2]}`)
      if (!hit) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }))
      return void res.writeHead(200, { 'content-type': hit.mt, 'content-length': hit.body.length }).end(hit.body)
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]+)$/.exec(url)
    if (m && blobs.has(m[2]!)) {
      const b = blobs.get(m[2]!)!
      return void res.writeHead(200, { 'content-length': b.length }).end(b)
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }))
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, addr, r))
  const port = (server.address() as { port: number }).port
  return {
    host: `${addr}:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}
