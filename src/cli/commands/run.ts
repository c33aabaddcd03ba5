import { defineCommand } from '../command.js'
import { usageError } from '../argv.js'
import { attachJob } from '../attach.js'
import { EXIT, exitCodeOf, type JobEnd } from '../exit.js'
import { jobPath, type JobView } from '../job-view.js'
import { followLogs, ndjsonLines, writeRecords, type FollowState } from '../logs.js'
import { SkiffError } from '../../lib/errors.js'
import { printJson } from '../render.js'
import { blameFlag, RUN_FLAGS, runBody } from '../run-flags.js'

export default defineCommand({
  usage: '[flags] IMAGE [CMD…]',
  description: `In the foreground the job's stdout and stderr stream to ours and skiff exits with
its code (128+N for signal N; 125 when skiff could not run it, 126 when the command
is not executable, 127 when it is not in the image). Flags end at IMAGE: what
follows is the job's command, flags and all.`,
  flags: RUN_FLAGS,
  stopAtPositional: true,
  args: { min: 1 },
  async run({ flags: f, args, client }) {
    if (!args[0]) throw usageError('usage: skiff run [flags] IMAGE [CMD…]', 'image')
    const c = client()
    const body = runBody(f, args)
    if (f.tty && process.stdout.isTTY) body.consoleSize = { rows: process.stdout.rows, cols: process.stdout.columns }
    // In the foreground without -i, one round trip: the job, then its output and exit
    // in the same response (POST /run?follow=true).
    const oneTrip = !f.detach && !f.interactive
    let stream: AsyncGenerator<unknown> | undefined
    let job: JobView
    try {
      if (oneTrip) {
        const res = await c.raw('POST', '/run?follow=true', { body, headers: { accept: 'application/x-ndjson' } })
        stream = ndjsonLines(res.body)
        const first = await stream.next()
        if (first.done || !(first.value as { job?: JobView }).job) throw new SkiffError('unavailable', 'DAEMON_UNREACHABLE', 'the daemon ended the run\'s response before naming its job')
        job = (first.value as { job: JobView }).job
      } else job = await c.json<JobView>('POST', '/run', body)
    } catch (e) {
      throw blameFlag(e)
    }
    if (f.detach) {
      if (f.json) printJson(job)
      else process.stdout.write(job.id + '\n')
      return 0
    }
    // Foreground, like `docker run`: stream output live, exit with the job's code. The
    // follow ends with the exit record (code, signal, state, reason): no wait request.
    const onSignal = () => void c.json('POST', jobPath(job.id, '/kill'), { signal: 'SIGTERM' }).catch(() => {})
    process.once('SIGINT', onSignal)
    let end: JobEnd | undefined
    try {
      if (f.interactive) {
        // Ctrl-P Ctrl-Q: detached, the job runs on (docker run -it's detach keys)
        let detached = false
        end = await attachJob(c, job.id, { logs: true, tty: !!f.tty, onDetach: () => (detached = true) })
        if (detached) return 0
      } else {
        // the rest of the response; if the connection drops, a follow from where it stopped
        const st: FollowState = {}
        try {
          await writeRecords(stream!, st)
        } catch (e) {
          // a closed stdout of ours is not a dropped connection (skiff run … | head -1)
          if ((e as NodeJS.ErrnoException).code === 'EPIPE') throw e
        }
        end = st.exit ?? (await followLogs(c, job.id, { follow: true, isId: true, ...(st.from !== undefined ? { from: st.from } : {}) }))
      }
    } finally {
      process.off('SIGINT', onSignal)
    }
    // the whole view only when it is printed or explains a failure
    let view: JobView | undefined
    if (!end || f.json || end.state === 'failed') view = await c.json<JobView>('POST', jobPath(job.id, '/wait'))
    const done: JobEnd & { message?: string | null } = view ?? end!
    if (f.json) printJson({ ...view, stdout: undefined, stderr: undefined })
    const code = exitCodeOf(done)
    if (done.state === 'failed') process.stderr.write(`skiff: job ${job.id} failed: ${done.message ?? done.reason}\n`)
    if (done.state === 'oom') process.stderr.write(`skiff: job ${job.id} was killed: out of memory\n`)
    if (done.state === 'timed_out') process.stderr.write(`skiff: job ${job.id} was killed: timeout\n`)
    return done.state === 'failed' && code === 0 ? EXIT.skiff : code
  },
})
