import { defineCommand, type Command } from '../command.js'
import { jobPath } from '../job-view.js'
import { number } from '../run-flags.js'

/** `skiff stop` and `skiff restart`: the same flags, the same loop, another route. */
export function stopCommand(action: 'stop' | 'restart', description: string): Command {
  return defineCommand({
    usage: '[-t SECONDS] JOB…',
    description,
    flags: { time: { short: 't', type: 'string', value: 'SECONDS', help: 'seconds to wait before SIGKILL (default: the job\'s --stop-timeout, else 10)' } },
    args: { min: 1 },
    async run({ flags: f, args, client }) {
      const body = f.time === undefined ? {} : { timeout: number('-t/--time', f.time as string) }
      for (const id of args) {
        await client().json('POST', jobPath(id, `/${action}`), body)
        process.stdout.write(id + '\n')
      }
      return 0
    },
  })
}

export default stopCommand('stop', `Sends each job its stop signal (the image's STOPSIGNAL, else SIGTERM), then
SIGKILL after the timeout; returns once they are stopped. A stopped job is not
restarted by its policy (unless-stopped: not even when the daemon restarts).`)
