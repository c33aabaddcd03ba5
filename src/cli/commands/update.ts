import { usageError } from '../argv.js'
import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'
import { RUN_FLAGS, runBody } from '../run-flags.js'

export default defineCommand({
  usage: '--restart POLICY [--backoff K=V,…] JOB…',
  description: 'Changes the restart policy (and backoff) of existing jobs; it applies from their next exit.',
  flags: { restart: RUN_FLAGS.restart!, backoff: RUN_FLAGS.backoff! },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    const { restart, backoff } = runBody({ restart: f.restart, backoff: f.backoff }, [''])
    if (restart === undefined && backoff === undefined) throw usageError('skiff update: nothing to change (give --restart or --backoff)', '--restart')
    for (const id of args) {
      await client().json('PATCH', jobPath(id), { ...(restart !== undefined ? { restart } : {}), ...(backoff !== undefined ? { backoff } : {}) })
      process.stdout.write(id + '\n')
    }
    return 0
  },
})
