import { readFileSync } from 'node:fs'
import { defineCommand } from '../command.js'
import { keyValues } from '../argv.js'
import { jobPath } from '../job-view.js'

export default defineCommand({
  usage: '[flags] JOB CMD…',
  flags: {
    env: { short: 'e', type: 'multi', value: 'K=V', help: 'set an environment variable' },
    user: { short: 'u', type: 'string', value: 'USER', help: 'user to run as' },
    workdir: { short: 'w', type: 'string', value: 'DIR', help: 'working directory' },
    interactive: { short: 'i', type: 'boolean', help: 'send our stdin to the command' },
  },
  stopAtPositional: true,
  args: { min: 2 },
  async run({ flags: f, args, client }) {
    const [id, ...cmd] = args
    const r = await client().json<{ exitCode: number | null; stdout: string; stderr: string }>('POST', jobPath(id!, '/exec'), {
      cmd,
      ...(f.env ? { env: keyValues(f.env as string[], '-e/--env') } : {}),
      ...(f.user ? { user: f.user } : {}),
      ...(f.workdir ? { workdir: f.workdir } : {}),
      ...(f.interactive ? { stdin: readFileSync(0, 'utf8') } : {}),
    })
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    return r.exitCode ?? 1
  },
})
