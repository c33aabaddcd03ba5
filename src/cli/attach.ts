import type { Client } from './client.js'
import { apiError } from './client.js'
import { SkiffError } from '../lib/errors.js'
import { scanDetach } from './detach-keys.js'

export interface JobExit {
  exitCode: number | null
  signal: string | null
  state: string
  reason?: string | null
}

/** Attach our stdin/stdout/stderr to an interactive job through the WebSocket
 *  /jobs/:id/attach: output as it is written (from the start with `logs`), our
 *  stdin into the job's until it ends (then EOF for the job). Resolves with the
 *  job's exit, or undefined if we detached first. */
export async function attachJob(c: Client, id: string, o: { logs?: boolean; stdin?: boolean; signal?: AbortSignal; tty?: boolean; onDetach?: () => void } = {}): Promise<JobExit | undefined> {
  const ws = await c.websocket(`/jobs/${encodeURIComponent(id)}/attach${o.logs ? '?logs=true' : ''}`)
  return new Promise((resolve, reject) => {
    let exit: JobExit | undefined
    let opened = false
    const input = process.stdin
    // A tty job with our terminal: raw keystrokes (the job's pty does the echo and
    // the line editing), our window size and its changes, Ctrl-P Ctrl-Q to detach.
    const raw = !!o.tty && o.stdin !== false && input.isTTY === true
    let held = false
    const size = () => ({ resize: { rows: process.stdout.rows || 24, cols: process.stdout.columns || 80 } })
    const onResize = () => ws.send(JSON.stringify(size()))
    const stopInput = () => {
      input.off('data', onData)
      input.off('end', onEnd)
      input.pause()
      if (raw) {
        input.setRawMode(false)
        process.stdout.off('resize', onResize)
      }
    }
    // A job that reads slowly: stop reading our stdin while the socket is backed up.
    const onData = (chunk: Buffer) => {
      let b = chunk
      if (raw) {
        const s = scanDetach(chunk, held)
        held = s.pending
        b = s.forward
        if (s.detach) {
          if (b.length) ws.send(b, { binary: true })
          process.stderr.write(`\r\nskiff: detached from ${id}; it keeps running (skiff attach ${id})\r\n`)
          o.onDetach?.()
          return ws.close(1000, 'detach')
        }
        if (!b.length) return
      }
      ws.send(b, { binary: true }, () => {
        if (input.isPaused() && ws.bufferedAmount < 256 * 1024) input.resume()
      })
      if (ws.bufferedAmount > 1024 * 1024) input.pause()
    }
    const onEnd = () => ws.send(JSON.stringify({ eof: true }))
    ws.on('open', () => {
      opened = true
      if (raw) {
        input.setRawMode(true)
        ws.send(JSON.stringify(size()))
        process.stdout.on('resize', onResize)
      }
      if (o.stdin !== false) {
        input.on('data', onData)
        input.on('end', onEnd)
        input.resume()
      }
    })
    ws.on('message', (m, binary) => {
      if (binary) return
      const msg = JSON.parse(m.toString()) as { stream?: string; data?: string; data64?: string; exit?: JobExit; error?: { code: string; message: string } }
      if (msg.exit) exit = msg.exit
      // input the job can no longer take (it ended, its stdin closed): dropped, as a pipe drops it
      else if (msg.error && (msg.error.code === 'JOB_NOT_RUNNING' || msg.error.code === 'STDIN_CLOSED')) return
      else if (msg.error) process.stderr.write(`skiff: ${msg.error.message}\n`)
      else if (msg.data !== undefined || msg.data64 !== undefined) {
        const bytes = msg.data64 !== undefined ? Buffer.from(msg.data64, 'base64') : Buffer.from(msg.data!, 'utf8')
        ;(msg.stream === 'stderr' ? process.stderr : process.stdout).write(bytes)
      }
    })
    ws.on('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (b: Buffer) => (body += b))
      res.on('end', () => reject(apiError(res.statusCode ?? 500, body)))
    })
    ws.on('error', (e) => {
      if (!opened) reject(new SkiffError('unavailable', 'DAEMON_UNREACHABLE', `cannot attach: ${e.message} (is \`skiff daemon\` running?)`, { cause: e }))
    })
    ws.on('close', () => {
      stopInput()
      if (opened) resolve(exit)
    })
    o.signal?.addEventListener('abort', () => ws.close(1000, 'detach'), { once: true })
  })
}
