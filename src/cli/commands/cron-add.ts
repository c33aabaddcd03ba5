import { defineCommand } from '../command.js'
import { blameCronFlag, CRON_ADD_FLAGS, cronAddBody } from '../cron-flags.js'
import { printJson } from '../render.js'

export default defineCommand({
  usage: '[flags] NAME SCHEDULE IMAGE [CMD…]',
  description: `SCHEDULE is a cron expression: 5 fields (minute hour day-of-month month
day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly.
Every tick starts one run of IMAGE CMD… (an ordinary job, named NAME-<unix time>,
with SKIFF_SCHEDULED_TIME in its env). Flags end at NAME.`,
  flags: CRON_ADD_FLAGS,
  stopAtPositional: true,
  args: { min: 3 },
  async run({ flags: f, args, client }) {
    const s = await client().json<{ name: string; next: string[] }>('POST', '/schedules', cronAddBody(f, args)).catch((e: unknown) => {
      throw blameCronFlag(e)
    })
    if (f.json) printJson(s)
    else process.stdout.write(`${s.name}${s.next[0] ? `  next run ${s.next[0]}` : ''}\n`)
    return 0
  },
})
