import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '[-f] IMAGE…',
  flags: { force: { short: 'f', type: 'boolean', help: 'remove even if a job uses it' } },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    for (const r of args) {
      await client().json('DELETE', `/images/${encodeURIComponent(r)}${f.force ? '?force=true' : ''}`)
      process.stdout.write(`untagged: ${r}\n`)
    }
    return 0
  },
})
