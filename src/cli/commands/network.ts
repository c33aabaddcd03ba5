import { defineCommand } from '../command.js'
import { keyValues } from '../argv.js'
import { printJson, table } from '../render.js'

interface NetworkView { name: string; id: string; bridge: string; subnet: string; gateway: string; endpoints: unknown[] }
const path = (name: string) => `/networks/${encodeURIComponent(name)}`

export const create = defineCommand({
  usage: '[--subnet CIDR] [-l K=V] NAME',
  flags: {
    subnet: { type: 'string', value: 'CIDR', help: 'IPv4 subnet, e.g. 10.78.5.0/24 (default: a free /24 of the daemon\'s pool)' },
    label: { short: 'l', type: 'multi', value: 'K=V', help: 'set a label' },
  },
  args: { min: 1, max: 1 },
  async run({ flags: f, args, client }) {
    const n = await client().json<NetworkView>('POST', '/networks', {
      name: args[0],
      ...(f.subnet ? { subnet: f.subnet } : {}),
      ...(f.label ? { labels: keyValues(f.label as string[], '-l/--label', process.env) } : {}),
    })
    process.stdout.write(n.name + '\n')
    return 0
  },
})

export const ls = defineCommand({
  usage: '[flags]',
  flags: {
    quiet: { short: 'q', type: 'boolean', help: 'print names only' },
    json: { type: 'boolean', help: 'print the networks as JSON' },
  },
  args: { max: 0 },
  async run({ flags: f, client }) {
    const { items } = await client().json<{ items: NetworkView[] }>('GET', '/networks')
    if (f.json) return printJson(items), 0
    if (f.quiet) return process.stdout.write(items.map((n) => n.name + '\n').join('')), 0
    process.stdout.write(table(items.map((n) => [n.name, n.subnet, n.gateway, n.bridge, String(n.endpoints.length)]), ['NAME', 'SUBNET', 'GATEWAY', 'BRIDGE', 'JOBS']) + '\n')
    return 0
  },
})

export const inspect = defineCommand({
  usage: 'NAME…',
  flags: {},
  args: { min: 1 },
  async run({ args, client }) {
    const out = []
    for (const n of args) out.push(await client().json('GET', path(n)))
    printJson(out.length === 1 ? out[0] : out)
    return 0
  },
})

export const rm = defineCommand({
  usage: 'NAME…',
  flags: {},
  args: { min: 1 },
  async run({ args, client }) {
    for (const n of args) {
      await client().json('DELETE', path(n))
      process.stdout.write(n + '\n')
    }
    return 0
  },
})
