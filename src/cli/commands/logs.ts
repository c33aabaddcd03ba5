import { defineCommand } from '../command.js'
import { followLogs } from '../logs.js'

export default defineCommand({
  usage: '[flags] JOB',
  flags: {
    follow: { short: 'f', type: 'boolean', help: 'keep following until the job ends' },
    tail: { short: 'n', type: 'string', value: 'N', help: 'only the last N lines' },
    since: { type: 'string', value: 'WHEN', help: 'only lines since a time (RFC 3339) or a duration ago (5m)' },
    timestamps: { short: 't', type: 'boolean', help: 'prefix each line with its time' },
    stream: { type: 'string', value: 'STREAM', help: 'only stdout or stderr' },
  },
  args: { min: 1, max: 1 },
  async run({ flags: f, args, client }) {
    await followLogs(client(), args[0]!, { follow: Boolean(f.follow), tail: f.tail as string | undefined, since: f.since as string | undefined, timestamps: Boolean(f.timestamps), stream: f.stream as string | undefined })
    return 0
  },
})
