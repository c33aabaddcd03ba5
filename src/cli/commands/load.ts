import { defineCommand } from '../command.js'
import type { ImageView } from '../job-view.js'
import { openInput } from '../files.js'

export default defineCommand({
  usage: '[-i FILE]',
  flags: { input: { short: 'i', type: 'string', value: 'FILE', help: 'read the tar from FILE (default: stdin)' } },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const body = f.input ? await openInput(f.input as string, '-i/--input') : process.stdin
    const res = await client().raw('POST', '/images/load', { rawBody: body, headers: { 'content-type': 'application/x-tar' } })
    const { items } = await res.json<{ items: ImageView[] }>()
    for (const i of items) process.stdout.write(`loaded: ${i.refs.join(', ') || i.id}\n`)
    return 0
  },
})
