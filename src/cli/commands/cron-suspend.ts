import { defineCommand, type Command } from '../command.js'
import { schedulePath } from '../cron-flags.js'

/** suspend and resume: one PATCH each. */
export const setSuspended = (suspend: boolean): Command =>
  defineCommand({
    usage: 'NAME…',
    description: suspend ? 'No tick fires while suspended.' : 'Ticks fire again from now on; nothing is made up for the suspended time.',
    flags: {},
    args: { min: 1 },
    async run({ args, client }) {
      for (const name of args) {
        await client().json('PATCH', schedulePath(name), { suspend })
        process.stdout.write(name + '\n')
      }
      return 0
    },
  })

export default setSuspended(true)
