import { SkiffError } from '../../lib/errors.js'
import { formatBytes } from '../../lib/units.js'
import { defineCommand } from '../command.js'
import type { ImageView } from '../job-view.js'
import { printJson } from '../render.js'

export default defineCommand({
  usage: '[flags] IMAGE',
  flags: {
    quiet: { short: 'q', type: 'boolean', help: 'no progress output' },
    json: { type: 'boolean', help: 'print the image as JSON' },
  },
  args: { min: 1, max: 1 },
  async run({ flags: f, args, client }) {
    const image = args[0]!
    const res = await client().raw('POST', '/images/pull', { body: { image }, headers: { accept: 'application/x-ndjson' } })
    const tty = process.stderr.isTTY && !f.quiet
    const layers = new Map<string, { done: number; total: number; status: string }>()
    const started = Date.now()
    let buf = ''
    let result: { done?: ImageView; error?: { code: string; message: string } } = {}
    let drawn = 0
    const draw = () => {
      if (drawn) process.stderr.write(`\x1b[${drawn}A`)
      const secs = Math.max(0.001, (Date.now() - started) / 1000)
      for (const [id, l] of layers) {
        const pct = l.total ? Math.floor((100 * l.done) / l.total) : 0
        process.stderr.write(`\x1b[2K${id.slice(7, 19)}  ${l.status.padEnd(11)} ${formatBytes(l.done).padStart(10)} / ${formatBytes(l.total).padEnd(10)} ${String(pct).padStart(3)}%  ${formatBytes(l.done / secs)}/s\n`)
      }
      drawn = layers.size
    }
    for await (const chunk of res.body) {
      buf += chunk.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (!line) continue
        const msg = JSON.parse(line) as { progress?: { layer?: string; state?: string; bytes?: number; total?: number } } & typeof result
        if (msg.progress) {
          const p = msg.progress
          const id = p.layer ?? 'manifest'
          const prev = layers.get(id)
          const l = { done: p.bytes ?? prev?.done ?? 0, total: p.total ?? prev?.total ?? 0, status: p.state ?? prev?.status ?? '' }
          const isNewStatus = prev?.status !== l.status
          layers.set(id, l)
          if (tty) draw()
          else if (isNewStatus && !f.quiet) process.stderr.write(`${id.slice(7, 19)}: ${l.status} ${formatBytes(l.total)}\n`)
        } else result = msg
      }
    }
    if (result.error) throw new SkiffError('upstream', result.error.code, result.error.message)
    if (f.json) printJson(result.done)
    else process.stdout.write(`${result.done?.refs[0] ?? image}: ${result.done?.id} (${((Date.now() - started) / 1000).toFixed(2)}s)\n`)
    return 0
  },
})
