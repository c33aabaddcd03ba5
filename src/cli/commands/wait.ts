import { defineCommand } from '../command.js'
import { exitCodeOf } from '../exit.js'
import { jobPath, type JobView } from '../job-view.js'

export default defineCommand({
  usage: 'JOB…',
  flags: {},
  args: { min: 1 },
  async run({ args, client }) {
    let code = 0
    for (const id of args) {
      code = exitCodeOf(await client().json<JobView>('POST', jobPath(id, '/wait')))
      process.stdout.write(`${code}\n`)
    }
    return code
  },
})
