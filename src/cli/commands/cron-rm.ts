import { defineCommand } from '../command.js'
import { schedulePath } from '../cron-flags.js'

export default defineCommand({
  usage: '[-f] NAME…',
  description: 'Deletes the schedule, its tick history and its runs with their logs.',
  flags: { force: { short: 'f', type: 'boolean', help: 'also when runs are active: kill them first' } },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    for (const name of args) {
      await client().json('DELETE', schedulePath(name, f.force ? '?force=true' : ''))
      process.stdout.write(name + '\n')
    }
    return 0
  },
})
