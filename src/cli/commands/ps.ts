import { defineCommand } from '../command.js'
import { statusText, type JobView, type ServiceView } from '../job-view.js'
import { nextLimit, psQuery } from '../ps-query.js'
import { ago, commandColumn, printJson, table } from '../render.js'

type Row = JobView & ServiceView

export default defineCommand({
  usage: '[flags]',
  flags: {
    all: { short: 'a', type: 'boolean', help: 'all jobs (default: active ones: queued, pulling, starting, running, restarting)' },
    last: { short: 'n', type: 'string', value: 'N', help: 'the N newest jobs, in any state' },
    latest: { short: 'l', type: 'boolean', help: 'the newest job, in any state' },
    quiet: { short: 'q', type: 'boolean', help: 'print job ids only' },
    filter: { short: 'f', type: 'multi', value: 'K=V', help: 'filter: status=STATE (any state, not only active ones), name=NAME, label=K=V' },
    'no-trunc': { type: 'boolean', help: 'do not cut the COMMAND column' },
    json: { type: 'boolean', help: 'print the jobs as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const q = psQuery({ all: !!f.all, filter: f.filter as string[] | undefined, last: f.last as string | undefined, latest: !!f.latest })
    const c = client()
    // The list is paged (newest first); follow the cursor to the end or to -n's count.
    const items: Row[] = []
    for (let before: string | null = null; ; ) {
      const limit = nextLimit(q.max, items.length)
      const params = new URLSearchParams(q.params)
      if (limit !== undefined) params.set('limit', String(limit))
      if (before) params.set('before', before)
      const page: { items: Row[]; next: string | null } = await c.json('GET', `/jobs?${params}`)
      items.push(...page.items)
      before = page.next
      if (!before || (q.max !== undefined && items.length >= q.max)) break
    }
    if (q.max !== undefined) items.length = Math.min(items.length, q.max)
    if (f.json) return printJson(items), 0
    if (f.quiet) return process.stdout.write(items.map((j) => j.id + '\n').join('')), 0
    const rows = items.map((j) => [
      j.id, j.image, commandColumn(j.cmd ?? [], !f['no-trunc']), ago(j.createdAt),
      statusText(j), j.name ?? '',
    ])
    process.stdout.write(table(rows, ['JOB ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAME']) + '\n')
    return 0
  },
})
