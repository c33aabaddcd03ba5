import { defineCommand } from '../command.js'
import { statusText, type JobView, type ServiceView } from '../job-view.js'
import { ago, printJson, table } from '../render.js'

export default defineCommand({
  usage: '[flags]',
  flags: {
    all: { short: 'a', type: 'boolean', help: 'all jobs (default: active ones: queued, pulling, starting, running, restarting)' },
    quiet: { short: 'q', type: 'boolean', help: 'print job ids only' },
    filter: { short: 'f', type: 'multi', value: 'K=V', help: 'filter: status=STATE, name=NAME, label=K=V' },
    json: { type: 'boolean', help: 'print the jobs as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const qs = new URLSearchParams()
    // docker ps shows restarting containers too
    if (!f.all) qs.set('state', 'queued,pulling,starting,running,backoff')
    for (const flt of (f.filter as string[] | undefined) ?? []) {
      const [k, ...v] = flt.split('=')
      qs.append(k === 'status' ? 'state' : k!, v.join('='))
    }
    const page = await client().json<{ items: (JobView & ServiceView)[] }>('GET', `/jobs?${qs}`)
    if (f.json) return printJson(page.items), 0
    if (f.quiet) return process.stdout.write(page.items.map((j) => j.id + '\n').join('')), 0
    const rows = page.items.map((j) => [
      j.id, j.image, JSON.stringify((j.cmd ?? []).join(' ')).slice(0, 30), ago(j.createdAt),
      statusText(j), j.name ?? '',
    ])
    process.stdout.write(table(rows, ['JOB ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAME']) + '\n')
    return 0
  },
})
