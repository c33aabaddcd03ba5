import { formatBytes } from '../../lib/units.js'
import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '',
  flags: {},
  args: { max: 0 },
  async run({ client }) {
    const r = await client().json<{ images: number; layers: number; bytes: number }>('POST', '/images/prune')
    process.stdout.write(`removed ${r.images} image(s), ${r.layers} layer(s), ${formatBytes(r.bytes)}\n`)
    return 0
  },
})
