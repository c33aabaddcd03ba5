import { Hono } from 'hono'
import { z } from 'zod'
import type { ApiDeps } from '../deps.js'
import { boolString, jsonBody, query } from '../schemas/common.js'
import { toJobView } from '../schemas/job.js'
import { SchedulePatchSchema, ScheduleRequestSchema, toScheduleInput, toSchedulePatch, toScheduleSummary, toScheduleView } from '../schemas/schedule.js'

const ViewQuery = z.object({ runs: z.coerce.number().int().min(0).max(1000).optional(), misses: z.coerce.number().int().min(0).max(1000).optional() }).strict()

/** Cron schedules: /schedules (mounted when the daemon has a ScheduleService). */
export function schedulesRoutes(d: Required<Pick<ApiDeps, 'schedules'>>) {
  const s = d.schedules
  return new Hono()
    .post('/schedules', async (c) => {
      const created = s.create(toScheduleInput(await jsonBody(c, ScheduleRequestSchema)))
      return c.json(toScheduleView(s.view(created.name)), 201, { Location: `/schedules/${created.name}` })
    })
    .get('/schedules', (c) => c.json({ items: s.overview().map((o) => toScheduleSummary(o.schedule, o.next, o.active)) }))
    .get('/schedules/:name', (c) => {
      const q = query(c, ViewQuery)
      return c.json(toScheduleView(s.view(c.req.param('name'), { runs: q.runs, misses: q.misses })))
    })
    .patch('/schedules/:name', async (c) => {
      const name = c.req.param('name')
      const body = await jsonBody(c, SchedulePatchSchema)
      s.update(name, toSchedulePatch(body, s.mustGet(name)))
      return c.json(toScheduleView(s.view(name)))
    })
    .delete('/schedules/:name', async (c) => {
      const q = query(c, z.object({ force: boolString.optional() }).strict())
      await s.remove(c.req.param('name'), { force: q.force })
      return c.body(null, 204)
    })
    .post('/schedules/:name/trigger', (c) => {
      const job = s.trigger(c.req.param('name'))
      return c.json(toJobView(job), 201, { Location: `/jobs/${job.id}` })
    })
}
