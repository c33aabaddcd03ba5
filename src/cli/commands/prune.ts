import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '',
  flags: {},
  args: { max: 0 },
  async run({ client }) {
    const r = await client().json<{ removed: string[] }>('POST', '/jobs/prune')
    process.stdout.write(`removed ${r.removed.length} finished job(s)\n`)
    return 0
  },
})
