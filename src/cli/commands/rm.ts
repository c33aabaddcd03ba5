import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'

export default defineCommand({
  usage: '[-f] JOB…',
  flags: { force: { short: 'f', type: 'boolean', help: 'kill a running job first' } },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    for (const id of args) {
      await client().json('DELETE', jobPath(id, f.force ? '?force=true' : ''))
      process.stdout.write(id + '\n')
    }
    return 0
  },
})
