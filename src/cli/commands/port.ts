import { defineCommand } from '../command.js'
import { jobPath } from '../job-view.js'
import { usageError } from '../argv.js'

interface PortView { hostIp: string; hostPort: number; containerPort: number; protocol: string }

/** docker port: "80/tcp -> 127.0.0.1:32768", or just the address for one port. */
export default defineCommand({
  usage: 'JOB [PORT[/PROTO]]',
  args: { min: 1, max: 2 },
  flags: {},
  async run({ args, client }) {
    const [id, want] = args as [string, string | undefined]
    const job = await client().json<{ network?: { ports?: PortView[] }; listen?: { hostIp: string; port: number } }>('GET', jobPath(id))
    let ports = job.network?.ports ?? []
    // a per-connection service: its listener is its one port
    if (job.listen && want === undefined) {
      process.stdout.write(`per-connection/tcp -> ${job.listen.hostIp}:${job.listen.port}\n`)
      return 0
    }
    if (want !== undefined) {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(want)
      if (!m) throw usageError(`invalid port ${JSON.stringify(want)}: expected PORT or PORT/tcp|udp`, 'PORT')
      ports = ports.filter((p) => p.containerPort === Number(m[1]) && (!m[2] || p.protocol === m[2].toLowerCase()))
      if (!ports.length) {
        process.stderr.write(`skiff: no public port '${want}' published for ${id}\n`)
        return 1
      }
      process.stdout.write(ports.map((p) => `${p.hostIp}:${p.hostPort}\n`).join(''))
      return 0
    }
    process.stdout.write(ports.map((p) => `${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}\n`).join(''))
    return 0
  },
})
