import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'

// "tty": true through a real daemon: conmon -t takes the pty master from crun's
// console socket; input through the attach socket, resizes through conmon's ctl fifo.
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const until = async (what: string, f: () => Promise<boolean>) => {
  for (let i = 0; i < 500; i++) {
    if (await f()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function ticketUrl(path: string): Promise<string> {
  const t = await d.api('POST', '/auth/tickets')
  return `ws://127.0.0.1:${d.port}${path}${path.includes('?') ? '&' : '?'}ticket=${t.json.ticket}`
}

describe('tty jobs', () => {
  it('run on a pseudo-terminal of the size asked for; output is one stream with CRLF', async () => {
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: 'tty; stty size; echo err >&2; test -t 0 && echo stdin-is-a-tty', tty: true, consoleSize: { rows: 30, cols: 100 } })
    expect(r.json).toMatchObject({ state: 'exited', exitCode: 0, tty: true, stderr: '' })
    expect(r.json.stdout).toBe('/dev/pts/0\r\n30 100\r\nerr\r\nstdin-is-a-tty\r\n')
  })

  it('attach: keystrokes in, the terminal out, a resize message changes the window size', async () => {
    const job = (await d.api('POST', '/run', { image: 'busybox', cmd: 'stty size; read -r x; stty size; echo "got $x"; exit 3', tty: true, interactive: true, consoleSize: { rows: 24, cols: 80 } })).json
    await until('running', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state === 'running')
    const ws = new WebSocket(await ticketUrl(`/jobs/${job.id}/attach?logs=true`))
    let out = ''
    const errors: unknown[] = []
    const exit = new Promise<any>((resolve, reject) => {
      ws.on('message', (m) => {
        const msg = JSON.parse(m.toString())
        if (msg.exit) resolve(msg.exit)
        else if (msg.error) errors.push(msg.error)
        else out += msg.data ?? Buffer.from(msg.data64 ?? '', 'base64').toString()
      })
      ws.on('error', reject)
    })
    await new Promise((r) => ws.once('open', r))
    await until('the first stty', async () => out.includes('24 80'))
    ws.send(JSON.stringify({ resize: { rows: 50, cols: 132 } }))
    // the pty has the new size (asked from inside) before the job is let go on
    await until('the resize', async () => (await d.api('POST', `/jobs/${job.id}/exec`, { cmd: ['stty', '-F', '/dev/pts/0', 'size'] })).json.stdout === '50 132\n')
    ws.send(Buffer.from('hello\r'))
    expect(await exit).toMatchObject({ exitCode: 3, state: 'exited' })
    expect(errors).toEqual([])
    expect(out).toBe('24 80\r\nhello\r\n50 132\r\ngot hello\r\n')
  })

  it('POST /jobs/:id/resize sets the size; a job without a terminal answers 409 NOT_A_TERMINAL', async () => {
    const job = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'], tty: true })).json
    await until('running', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state === 'running')
    const r = await d.api('POST', `/jobs/${job.id}/resize`, { rows: 40, cols: 90 })
    expect(r.status, r.text).toBe(200)
    await until('the resize', async () => (await d.api('POST', `/jobs/${job.id}/exec`, { cmd: ['stty', '-F', '/dev/pts/0', 'size'] })).json.stdout === '40 90\n')
    expect((await d.api('POST', `/jobs/${job.id}/resize`, { rows: 0, cols: 90 })).json.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'rows' })
    await d.api('POST', `/jobs/${job.id}/kill`)
    const plain = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'] })).json
    const n = await d.api('POST', `/jobs/${plain.id}/resize`, { rows: 40, cols: 90 })
    expect(n.status).toBe(409)
    expect(n.json.error.code).toBe('NOT_A_TERMINAL')
    await d.api('POST', `/jobs/${plain.id}/kill`)
  })
})
