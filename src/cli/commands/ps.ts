import { defineCommand } from '../command.js'
import type { JobView } from '../job-view.js'
import { ago, printJson, table } from '../render.js'

export default defineCommand({
  usage: '[flags]',
  flags: {
    all: { short: 'a', type: 'boolean', help: 'all jobs (default: queued, pulling, starting, running)' },
    quiet: { short: 'q', type: 'boolean', help: 'print job ids only' },
    filter: { short: 'f', type: 'multi', value: 'K=V', help: 'filter: status=STATE, name=NAME, label=K=V' },
    json: { type: 'boolean', help: 'print the jobs as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const qs = new URLSearchParams()
    if (!f.all) qs.set('state', 'queued,pulling,starting,running')
    for (const flt of (f.filter as string[] | undefined) ?? []) {
      const [k, ...v] = flt.split('=')
      qs.append(k === 'status' ? 'state' : k!, v.join('='))
    }
    const page = await client().json<{ items: JobView[] }>('GET', `/jobs?${qs}`)
    if (f.json) return printJson(page.items), 0
    if (f.quiet) return process.stdout.write(page.items.map((j) => j.id + '\n').join('')), 0
    const rows = page.items.map((j) => [
      j.id, j.image, JSON.stringify((j.cmd ?? []).join(' ')).slice(0, 30), ago(j.createdAt),
      j.state + (j.exitCode !== null ? ` (${j.exitCode})` : j.signal ? ` (${j.signal})` : ''), j.name ?? '',
    ])
    process.stdout.write(table(rows, ['JOB ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAME']) + '\n')
    return 0
  },
})
