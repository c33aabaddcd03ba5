import { Hono } from 'hono'
import type { ApiDeps } from '../deps.js'
import { jsonBody } from '../schemas/common.js'
import { NetworkCreateSchema } from '../schemas/network.js'
import { SkiffError } from '../../lib/errors.js'

export function networksRoutes(d: ApiDeps) {
  const nets = () => {
    if (!d.networks) throw new SkiffError('unavailable', 'NETWORKS_UNAVAILABLE', 'this daemon has no bridge networking')
    return d.networks
  }
  return new Hono()
    .post('/networks', async (c) => {
      const n = nets().create(await jsonBody(c, NetworkCreateSchema))
      return c.json(n, 201, { Location: `/networks/${encodeURIComponent(n.name)}` })
    })
    .get('/networks', (c) => c.json({ items: nets().list() }))
    .get('/networks/:name', (c) => c.json(nets().mustGet(c.req.param('name'))))
    .delete('/networks/:name', async (c) => {
      await nets().remove(c.req.param('name'))
      return c.body(null, 204)
    })
}
