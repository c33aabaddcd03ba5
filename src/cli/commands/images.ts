import { createReadStream, createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Client } from '../client.js'
import { parseArgv } from '../argv.js'
import { formatBytes } from '../../lib/units.js'
import { ago, printJson, table } from '../render.js'
import { SkiffError } from '../../lib/errors.js'

interface ImageView { id: string; refs: string[]; size: number; createdAt: string; platform: string }

export async function pull(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { quiet: { short: 'q', type: 'boolean' }, json: { type: 'boolean' } })
  const [image] = positionals
  if (!image) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff pull IMAGE', { field: 'image' })
  const res = await c.raw('POST', '/images/pull', { body: { image }, headers: { accept: 'application/x-ndjson' } })
  const tty = process.stderr.isTTY && !f.quiet
  const layers = new Map<string, { done: number; total: number; status: string }>()
  const started = Date.now()
  let buf = ''
  let result: { done?: ImageView; error?: { code: string; message: string } } = {}
  let drawn = 0
  const draw = () => {
    if (!tty) return
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
  else console.log(`${result.done?.refs[0] ?? image}: ${result.done?.id} (${((Date.now() - started) / 1000).toFixed(2)}s)`)
  return 0
}

export async function images(c: Client, argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, { json: { type: 'boolean' }, quiet: { short: 'q', type: 'boolean' } })
  const { items } = await c.json<{ items: ImageView[] }>('GET', '/images')
  if (f.json) return printJson(items), 0
  if (f.quiet) return process.stdout.write(items.map((i) => i.id + '\n').join('')), 0
  const rows: string[][] = []
  for (const i of items) {
    for (const r of i.refs.length ? i.refs : ['<none>']) rows.push([r, i.id.slice(7, 19), i.platform, ago(i.createdAt), formatBytes(i.size)])
  }
  console.log(table(rows, ['REFERENCE', 'IMAGE ID', 'PLATFORM', 'CREATED', 'SIZE']))
  return 0
}

export async function rmi(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { force: { short: 'f', type: 'boolean' } })
  for (const r of positionals) {
    await c.json('DELETE', `/images/${encodeURIComponent(r)}${f.force ? '?force=true' : ''}`)
    console.log(`untagged: ${r}`)
  }
  return 0
}

export async function imagePrune(c: Client): Promise<number> {
  const r = await c.json<{ images: number; layers: number; bytes: number }>('POST', '/images/prune')
  console.log(`removed ${r.images} image(s), ${r.layers} layer(s), ${formatBytes(r.bytes)}`)
  return 0
}

export async function load(c: Client, argv: string[]): Promise<number> {
  const { flags: f } = parseArgv(argv, { input: { short: 'i', type: 'string' } })
  const body = f.input ? createReadStream(f.input as string) : process.stdin
  const res = await c.raw('POST', '/images/load', { rawBody: body, headers: { 'content-type': 'application/x-tar' } })
  const { items } = (await res.body.json()) as { items: ImageView[] }
  for (const i of items) console.log(`loaded: ${i.refs.join(', ') || i.id}`)
  return 0
}

export async function importRootfs(c: Client, argv: string[]): Promise<number> {
  const { positionals } = parseArgv(argv, {})
  const [file, ref] = positionals
  if (!file || !ref) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff import FILE|- REF', { field: 'ref' })
  const body = file === '-' ? process.stdin : createReadStream(file)
  const res = await c.raw('POST', `/images/import?ref=${encodeURIComponent(ref)}`, { rawBody: body, headers: { 'content-type': 'application/x-tar' } })
  const img = (await res.body.json()) as ImageView
  console.log(img.id)
  return 0
}

export async function save(c: Client, argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseArgv(argv, { output: { short: 'o', type: 'string' } })
  if (!positionals.length) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'usage: skiff save [-o FILE] IMAGE…', { field: 'image' })
  if (!f.output && process.stdout.isTTY) throw new SkiffError('invalid_argument', 'INVALID_ARGUMENT', 'refusing to write a tar to a terminal: use -o FILE or redirect', { field: 'output' })
  const qs = positionals.map((r) => `ref=${encodeURIComponent(r)}`).join('&')
  const res = await c.raw('GET', `/images/save?${qs}`)
  await pipeline(res.body, f.output ? createWriteStream(f.output as string) : process.stdout)
  return 0
}
