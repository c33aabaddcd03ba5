import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'

export default defineCommand({
  usage: 'JOB…',
  description: 'Starts a stopped or ended job again: a new attempt on the same writable layer, its restart count and backoff reset.',
  flags: {},
  args: { min: 1 },
  async run({ args, client }) {
    for (const id of args) {
      await client().json('POST', jobPath(id, '/start'))
      process.stdout.write(id + '\n')
    }
    return 0
  },
})
