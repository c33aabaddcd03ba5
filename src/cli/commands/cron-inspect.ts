import { defineCommand } from '../command.js'
import { schedulePath } from '../cron-flags.js'
import { printJson } from '../render.js'

export default defineCommand({
  usage: 'NAME…',
  description: 'JSON: the spec, the next 5 fire times, recent runs with their state, and the ticks that did not run (missed, or skipped by --concurrency forbid).',
  flags: { json: { type: 'boolean', help: 'JSON (the default and only format)', hidden: true } },
  args: { min: 1 },
  async run({ args, client }) {
    const out = []
    for (const name of args) out.push(await client().json('GET', schedulePath(name)))
    printJson(out.length === 1 ? out[0] : out)
    return 0
  },
})
