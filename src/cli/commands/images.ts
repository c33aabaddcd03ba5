import { formatBytes } from '../../lib/units.js'
import { defineCommand } from '../command.js'
import type { ImageView } from '../job-view.js'
import { ago, printJson, table } from '../render.js'

export default defineCommand({
  usage: '[flags]',
  flags: {
    quiet: { short: 'q', type: 'boolean', help: 'print image ids only' },
    json: { type: 'boolean', help: 'print the images as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const { items } = await client().json<{ items: ImageView[] }>('GET', '/images')
    if (f.json) return printJson(items), 0
    if (f.quiet) return process.stdout.write(items.map((i) => i.id + '\n').join('')), 0
    const rows: string[][] = []
    for (const i of items) {
      for (const r of i.refs.length ? i.refs : ['<none>']) rows.push([r, i.id.slice(7, 19), i.platform, ago(i.createdAt), formatBytes(i.size)])
    }
    process.stdout.write(table(rows, ['REFERENCE', 'IMAGE ID', 'PLATFORM', 'CREATED', 'SIZE']) + '\n')
    return 0
  },
})
