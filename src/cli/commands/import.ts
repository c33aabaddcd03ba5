import { defineCommand } from '../command.js'
import type { ImageView } from '../job-view.js'
import { openInput } from '../files.js'

export default defineCommand({
  usage: 'FILE|- REF',
  flags: {},
  args: { min: 2, max: 2 },
  async run({ args, client }) {
    const [file, ref] = args as [string, string]
    const body = file === '-' ? process.stdin : await openInput(file, 'import')
    const res = await client().raw('POST', `/images/import?ref=${encodeURIComponent(ref)}`, { rawBody: body, headers: { 'content-type': 'application/x-tar' } })
    process.stdout.write((await res.json<ImageView>()).id + '\n')
    return 0
  },
})
