import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'
import { printJson } from '../render.js'

export default defineCommand({
  usage: 'JOB…',
  flags: { json: { type: 'boolean', help: 'JSON (the default and only format)', hidden: true } },
  args: { min: 1 },
  async run({ args, client }) {
    const out = []
    for (const id of args) out.push(await client().json('GET', jobPath(id)))
    printJson(out.length === 1 ? out[0] : out)
    return 0
  },
})
