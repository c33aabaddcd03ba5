import { isSkiffError } from '../lib/errors.js'
import { Client } from './client.js'
import * as jobs from './commands/jobs.js'
import * as img from './commands/images.js'

const USAGE = `skiff — run jobs in containers

Usage: skiff COMMAND [flags]

Jobs:
  run [-d] [--rm] [--name N] [-e K=V] [-m 256m] [--cpus 0.5] [--pids 128] [--timeout 30s]
      [--network none|host] [-u USER] [-w DIR] [--entrypoint E] [-i] IMAGE [CMD…]
                               -i: keep stdin open and stream ours into it
  attach [--no-stdin] [--logs] JOB   stdin/output of a running job (Ctrl-C detaches)
  ps [-a] [-q] [--json]        list jobs
  inspect JOB…                 show a job as JSON
  logs [-f] [--tail N] [--since 5m] [-t] JOB
  kill [-s SIGNAL] JOB…        signal a running job (default SIGKILL)
  wait JOB…                    wait for jobs to end, print exit codes
  rm [-f] JOB…                 remove finished jobs (and their logs)
  exec [-e K=V] [-u USER] JOB CMD…
  prune                        remove all finished jobs

Images:
  pull IMAGE                   pull with per-layer progress
  images [-q] [--json]         list images
  rmi [-f] IMAGE…              remove image references
  image prune                  remove unused images and layers
  load [-i FILE]               load a docker-save / OCI layout tar (stdin by default)
  save [-o FILE] IMAGE…        export images as a docker-save tar
  import FILE|- REF            import a rootfs tarball as a one-layer image

Daemon:
  daemon [--data-dir D] [--socket S] [--listen H:P] [--runtime crun|runc|runsc]
  doctor [--data-dir D]        check this host and the data dir's file modes; print fixes
  token [--rotate]             print (or rotate) the API token

Environment: SKIFF_SOCKET (default /run/skiff/skiff.sock), SKIFF_HOST + SKIFF_TOKEN for TCP.`

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(USAGE)
    return cmd ? 0 : 2
  }
  if (cmd === 'daemon') return (await import('./commands/daemon.js')).daemon(rest)
  if (cmd === 'doctor') return (await import('./commands/daemon.js')).doctor(rest)
  if (cmd === 'token') return (await import('./commands/daemon.js')).token(rest)
  const c = new Client()
  switch (cmd) {
    case 'run': return jobs.run(c, rest)
    case 'attach': return jobs.attach(c, rest)
    case 'ps': return jobs.ps(c, rest)
    case 'inspect': return jobs.inspect(c, rest)
    case 'logs': return jobs.logs(c, rest)
    case 'kill': return jobs.kill(c, rest)
    case 'wait': return jobs.wait(c, rest)
    case 'rm': return jobs.rm(c, rest)
    case 'exec': return jobs.exec(c, rest)
    case 'prune': return jobs.prune(c)
    case 'pull': return img.pull(c, rest)
    case 'images': return img.images(c, rest)
    case 'rmi': return img.rmi(c, rest)
    case 'image':
      if (rest[0] === 'prune') return img.imagePrune(c)
      if (rest[0] === 'ls') return img.images(c, rest.slice(1))
      if (rest[0] === 'rm') return img.rmi(c, rest.slice(1))
      break
    case 'load': return img.load(c, rest)
    case 'save': return img.save(c, rest)
    case 'import': return img.importRootfs(c, rest)
  }
  process.stderr.write(`skiff: unknown command ${JSON.stringify([cmd, ...rest].slice(0, 2).join(' '))}\n\n${USAGE}\n`)
  return 2
}

const invoked = process.argv[1] && /cli\/main\.[jt]s$/.test(process.argv[1])
if (invoked) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      if (isSkiffError(e)) process.stderr.write(`skiff: ${e.message}\n`)
      else process.stderr.write(`skiff: ${(e as Error)?.stack ?? String(e)}\n`)
      process.exitCode = isSkiffError(e) && e.kind === 'invalid_argument' ? 2 : 1
    },
  )
}
