import { defineCommand } from '../command.js'
import { printJson, table } from '../render.js'

interface Summary { name: string; cron: string; timezone: string; concurrency: string; suspend: boolean; next: string | null; last_tick: string; active: number; missed_total: number }

export default defineCommand({
  usage: '[flags]',
  flags: {
    quiet: { short: 'q', type: 'boolean', help: 'print schedule names only' },
    json: { type: 'boolean', help: 'print the schedules as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const { items } = await client().json<{ items: Summary[] }>('GET', '/schedules')
    if (f.json) return printJson(items), 0
    if (f.quiet) return process.stdout.write(items.map((s) => s.name + '\n').join('')), 0
    const rows = items.map((s) => [s.name, s.cron, s.timezone, s.concurrency, s.suspend ? 'suspended' : (s.next ?? ''), String(s.active), String(s.missed_total)])
    process.stdout.write(table(rows, ['NAME', 'SCHEDULE', 'TIMEZONE', 'CONCURRENCY', 'NEXT', 'ACTIVE', 'MISSED']) + '\n')
    return 0
  },
})
