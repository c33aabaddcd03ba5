import { defineCommand } from '../command.js'
import { attachJob } from '../attach.js'
import { exitCodeOf } from '../exit.js'
import { jobPath, type JobView } from '../job-view.js'
import { followLogs } from '../logs.js'

/** Our stdin into an interactive job's, its output to ours; Ctrl-C detaches and
 *  leaves the job running. A job without an open stdin is followed from now on,
 *  like docker attach of a container run without -i. */
export default defineCommand({
  usage: '[flags] JOB',
  flags: {
    'no-stdin': { type: 'boolean', help: 'do not send our stdin' },
    logs: { type: 'boolean', help: 'replay the output so far first' },
  },
  args: { min: 1, max: 1 },
  async run({ flags: f, args, client }) {
    const c = client()
    const job = await c.json<JobView>('GET', jobPath(args[0]!))
    const ac = new AbortController()
    const onSignal = () => {
      process.stderr.write(`\nskiff: detached from ${job.id}; it keeps running (skiff attach ${job.id})\n`)
      ac.abort()
    }
    process.once('SIGINT', onSignal)
    try {
      if (!job.interactive) {
        await followLogs(c, job.id, { follow: true, ...(f.logs ? {} : { tail: '0' }), signal: ac.signal })
        if (ac.signal.aborted) return 0
        return exitCodeOf(await c.json<JobView>('POST', jobPath(job.id, '/wait')))
      }
      const exit = await attachJob(c, job.id, { logs: !!f.logs, stdin: !f['no-stdin'], signal: ac.signal, tty: !!job.tty })
      return exit ? exitCodeOf(exit) : 0
    } finally {
      process.off('SIGINT', onSignal)
    }
  },
})
