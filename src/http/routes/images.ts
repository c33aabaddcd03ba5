import { Readable, PassThrough } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { Hono } from 'hono'
import { stream } from 'hono/streaming'
import { z } from 'zod'
import { SkiffError } from '../../lib/errors.js'
import type { ApiDeps } from '../deps.js'
import { errorBody, toSkiffError } from '../errors.js'
import { boolString, jsonBody, query } from '../schemas/common.js'
import { PullSchema, toImageView } from '../schemas/image.js'

const notFound = (ref: string) => new SkiffError('not_found', 'IMAGE_NOT_FOUND_LOCALLY', `image ${ref} not found locally`)

function bodyStream(c: { req: { raw: Request } }): Readable {
  if (!c.req.raw.body) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'body: an archive is required', { field: 'body' })
  return Readable.fromWeb(c.req.raw.body as unknown as WebReadableStream<Uint8Array>)
}

export function imagesRoutes(d: ApiDeps) {
  return new Hono()
    .post('/images/pull', async (c) => {
      const { image } = await jsonBody(c, PullSchema)
      const wantsStream = (c.req.header('accept') ?? '').includes('application/x-ndjson')
      if (!wantsStream) {
        const started = Date.now()
        const img = await d.images.pull(image)
        d.metrics.pulls.inc({ result: 'ok' })
        return c.json({ ...toImageView(img), pullMs: Date.now() - started })
      }
      // NDJSON: one progress object per line, then {"done": image} or {"error": …}.
      c.header('Content-Type', 'application/x-ndjson')
      return stream(c, async (s) => {
        const write = (o: unknown) => s.write(JSON.stringify(o) + '\n')
        try {
          const img = await d.images.pull(image, { onProgress: (p) => void write({ progress: p }) })
          d.metrics.pulls.inc({ result: 'ok' })
          await write({ done: toImageView(img) })
        } catch (e) {
          d.metrics.pulls.inc({ result: 'error' })
          await write(errorBody(toSkiffError(e)))
        }
      })
    })
    .get('/images', (c) => c.json({ items: d.images.list().map(toImageView) }))
    .post('/images/prune', async (c) => {
      const inUse = new Set<string>()
      for (const j of d.jobs.list({ state: ['queued', 'pulling', 'starting', 'running'], limit: 1000 }).items) if (j.imageId) inUse.add(j.imageId)
      return c.json(await d.images.prune({ inUse }))
    })
    .post('/images/load', async (c) => {
      const imgs = await d.images.load(bodyStream(c))
      return c.json({ items: imgs.map(toImageView) }, 201)
    })
    .post('/images/import', async (c) => {
      const q = query(c, z.object({ ref: z.string().min(1) }).strict())
      const img = await d.images.importRootfs(bodyStream(c), { ref: q.ref })
      return c.json(toImageView(img), 201)
    })
    .get('/images/save', async (c) => {
      const refs = c.req.queries('ref') ?? []
      if (!refs.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'ref: at least one ?ref= is required', { field: 'ref' })
      for (const r of refs) if (!d.images.resolve(r)) throw notFound(r)
      const out = new PassThrough()
      d.images.save(refs, out).catch((e) => out.destroy(e as Error))
      return new Response(Readable.toWeb(out) as unknown as ReadableStream, { headers: { 'Content-Type': 'application/x-tar' } })
    })
    .get('/images/:ref{.+}', (c) => {
      const ref = c.req.param('ref')
      const img = d.images.resolve(ref)
      if (!img) throw notFound(ref)
      return c.json(toImageView(img))
    })
    .delete('/images/:ref{.+}', async (c) => {
      const q = query(c, z.object({ force: boolString.optional() }).strict())
      const ref = c.req.param('ref')
      if (!d.images.resolve(ref)) throw notFound(ref)
      const inUse = d.jobs.list({ state: ['queued', 'pulling', 'starting', 'running'], limit: 1000 }).items.some((j) => j.image === ref || j.imageId === d.images.resolve(ref)?.id)
      if (inUse && !q.force) throw new SkiffError('conflict', 'IMAGE_IN_USE', `image ${ref} is used by an unfinished job; use force`)
      await d.images.remove(ref, { force: q.force })
      return c.body(null, 204)
    })
}
