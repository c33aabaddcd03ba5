import { defineCommand } from '../command.js'
import { version } from '../version.js'

export default defineCommand({
  usage: '[--json]',
  flags: { json: { type: 'boolean', help: 'print as JSON' } },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const local = { version: version(), node: process.version, os: process.platform, arch: process.arch }
    let server: Record<string, unknown> | { error: string }
    try {
      server = await client().json<Record<string, unknown>>('GET', '/version')
    } catch (e) {
      server = { error: (e as Error).message }
    }
    if (f.json) {
      process.stdout.write(JSON.stringify({ client: local, server }, null, 2) + '\n')
    } else {
      process.stdout.write(`Client:\n Version:  ${local.version}\n Node:     ${local.node}\n OS/Arch:  ${local.os}/${local.arch}\n\n`)
      if ('error' in server) process.stdout.write(`Server:\n Error:    ${server.error}\n`)
      else process.stdout.write(`Server:\n${Object.entries(server).map(([k, v]) => ` ${(k[0]!.toUpperCase() + k.slice(1) + ':').padEnd(10)}${String(v)}`).join('\n')}\n`)
    }
    return 'error' in server ? 125 : 0
  },
})
