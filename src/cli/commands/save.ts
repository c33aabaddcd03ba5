import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { usageError } from '../argv.js'
import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '[-o FILE] IMAGE…',
  flags: { output: { short: 'o', type: 'string', value: 'FILE', help: 'write the tar to FILE (default: stdout, never a terminal)' } },
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    if (!f.output && process.stdout.isTTY) throw usageError('refusing to write a tar to a terminal: use -o FILE or redirect', '-o')
    const qs = args.map((r) => `ref=${encodeURIComponent(r)}`).join('&')
    const res = await client().raw('GET', `/images/save?${qs}`)
    await pipeline(res.body, f.output ? createWriteStream(f.output as string) : process.stdout)
    return 0
  },
})
