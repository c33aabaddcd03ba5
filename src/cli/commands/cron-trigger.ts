import { defineCommand } from '../command.js'
import { schedulePath } from '../cron-flags.js'
import { printJson } from '../render.js'

export default defineCommand({
  usage: '[flags] NAME',
  description: 'Starts a run now, recorded as a manual run (--concurrency does not apply); prints its job id.',
  flags: { json: { type: 'boolean', help: 'print the run as JSON' } },
  args: { min: 1, max: 1 },
  async run({ flags: f, args, client }) {
    const job = await client().json<{ id: string }>('POST', schedulePath(args[0]!, '/trigger'))
    if (f.json) printJson(job)
    else process.stdout.write(job.id + '\n')
    return 0
  },
})
