import { defineCommand } from '../command.js'
import { keyValues } from '../argv.js'
import { execJob } from '../attach.js'
import { exitCodeOf } from '../exit.js'

/** docker exec: the command's output streams as it comes (the exec WebSocket); -i
 *  streams our stdin into it, -t gives it a pseudo-terminal of our window's size
 *  (raw keys, size changes followed). Ctrl-C without -t, or our exit, kills it. */
export default defineCommand({
  usage: '[flags] JOB CMD…',
  description: `Exits with the command's code (128+N for signal N; 126 when it is not executable,
127 when it is not in the container, 125 when skiff could not run it).`,
  flags: {
    interactive: { short: 'i', type: 'boolean', help: 'send our stdin to the command' },
    tty: { short: 't', type: 'boolean', help: 'a pseudo-terminal for the command (with -i: our keystrokes, raw)' },
    env: { short: 'e', type: 'multi', value: 'K=V', help: 'set an environment variable' },
    user: { short: 'u', type: 'string', value: 'USER', help: 'user to run as (name, uid, uid:gid)' },
    workdir: { short: 'w', type: 'string', value: 'DIR', help: 'working directory' },
  },
  stopAtPositional: true,
  args: { min: 2 },
  async run({ flags: f, args, client }) {
    const [id, ...cmd] = args
    const end = await execJob(client(), id!, cmd, {
      stdin: !!f.interactive,
      tty: !!f.tty,
      ...(f.env ? { env: keyValues(f.env as string[], '-e/--env') } : {}),
      ...(f.user ? { user: f.user as string } : {}),
      ...(f.workdir ? { workdir: f.workdir as string } : {}),
    })
    return exitCodeOf(end)
  },
})
