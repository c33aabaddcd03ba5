import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'

export default defineCommand({
  usage: '[-s SIGNAL] JOB…',
  flags: { signal: { short: 's', type: 'string', value: 'SIGNAL', help: 'signal to send, e.g. SIGTERM or TERM (default SIGKILL)' } },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    for (const id of args) {
      await client().json('POST', jobPath(id, '/kill'), f.signal ? { signal: f.signal } : {})
      process.stdout.write(id + '\n')
    }
    return 0
  },
})
