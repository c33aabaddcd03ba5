import type { Socket } from 'node:net'
import type { Logger } from '../lib/log.js'
import { isFinal } from './job-state.js'
import type { ConnectionJobs, FollowPort } from './ports.js'

export interface BridgeDeps {
  jobs: ConnectionJobs
  logs: FollowPort
  log: Logger
  /** After the job's output was sent and the socket ended, how long the peer has to close its side. */
  lingerMs?: number
  /** the daemon is stopping: a socket closing now is no reason to kill the job (the next daemon ends it) */
  abandoned?: () => boolean
}

/** Merge adjacent output records up to this much per socket write. */
const COALESCE = 256 * 1024

/**
 * One TCP connection ↔ one connection job, both directions, byte for byte.
 * In: socket data → the job's stdin (conmon's attach socket, via JobService);
 * the socket is paused while a write is in flight, so a job that does not read
 * stops the peer (TCP's own back-pressure), and the peer's FIN (shutdown
 * SHUT_WR) becomes the job's stdin EOF after everything before it.
 * Out: the job's log followed live (disk, then inotify wake-ups: no polling
 * delay), stdout and stderr both, as xinetd and systemd's Accept=yes hand the
 * socket to fd 1 and 2; the follow is pull-based, so a peer that does not read
 * leaves the rest on disk. Once the job has exited and its last byte is
 * written, the socket is ended (FIN after the data). The peer closing (reset,
 * or a full close noticed by a failed write) kills the job.
 * Resolves when the job has settled and the socket is closed.
 */
export async function bridge(sock: Socket, id: string, d: BridgeDeps): Promise<void> {
  const abort = new AbortController()
  let closed = false
  sock.setNoDelay(true)
  sock.on('error', (err) => d.log.debug({ err, job: id }, 'connection error'))
  const gone = new Promise<void>((resolve) =>
    sock.once('close', () => {
      closed = true
      abort.abort()
      resolve()
    }),
  )

  // ---- in: the peer's bytes, in order, then EOF
  let tail = Promise.resolve()
  let stdinOpen = true
  const push = (op: () => Promise<void>) => {
    tail = tail.then(() => (stdinOpen ? op() : undefined)).catch(() => {
      // the job has ended (or closed its stdin): later input has nowhere to go
      stdinOpen = false
    })
  }
  sock.on('data', (chunk: Buffer) => {
    sock.pause()
    push(() => d.jobs.writeStdin(id, chunk))
    void tail.then(() => {
      if (!closed) sock.resume()
    })
  })
  sock.on('end', () => push(() => d.jobs.closeStdin(id)))

  // ---- out: everything the job writes, then FIN
  const out = (async () => {
    await d.jobs.started(id)
    const exited = async () => {
      const j = await d.jobs.wait(id)
      return { exitCode: j.exitCode, signal: j.signal, state: j.state, reason: j.reason }
    }
    for await (const r of d.logs.follow(id, 0, abort.signal, { exited, coalesceBytes: COALESCE })) {
      if (closed) return
      if ('exit' in r) break
      if (r.dropped || !r.data.byteLength) continue
      // the record is a view of the follower's read slab, reused by its next read
      if (!sock.write(Buffer.from(r.data))) await drained(sock)
    }
    if (closed) return
    sock.end()
    // the peer has had everything; one that keeps its side open is let go
    sock.setTimeout(d.lingerMs ?? 10_000, () => sock.destroy())
  })()
  out.catch((err) => {
    d.log.warn({ err, job: id }, 'connection output failed')
    sock.destroy()
  })

  await gone
  if (d.abandoned?.()) return
  const job = d.jobs.get(id)
  if (job && !isFinal(job.state))
    await d.jobs.kill(id, 'SIGKILL', { reason: 'connection-closed', message: 'the connection closed before the job ended' }).catch(() => {})
  await d.jobs.wait(id)
  await out.catch(() => {})
}

/** Resolves when the socket can take more, or is gone. */
function drained(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off('drain', done)
      sock.off('close', done)
      resolve()
    }
    sock.on('drain', done)
    sock.on('close', done)
  })
}
