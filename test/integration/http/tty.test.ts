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

describe('GET /jobs/:id/exec/ws (docker exec -it)', () => {
  /** An exec socket: everything it says, the exit (or the error it ended on). */
  async function execSocket(job: string, q: string) {
    const ws = new WebSocket(await ticketUrl(`/jobs/${job}/exec/ws?${q}`))
    let out = ''
    const errors: any[] = []
    const end = new Promise<any>((resolve, reject) => {
      ws.on('message', (m) => {
        const msg = JSON.parse(m.toString())
        if (msg.exit) resolve(msg.exit)
        else if (msg.error) errors.push(msg.error)
        else out += msg.data ?? Buffer.from(msg.data64 ?? '', 'base64').toString()
      })
      ws.on('close', () => resolve(undefined))
      ws.on('error', reject)
    })
    await new Promise((r) => ws.once('open', r))
    return { ws, out: () => out, errors, end }
  }

  it('a command on a terminal of the asked size: keystrokes in, resize followed, exit code out', async () => {
    const job = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'] })).json
    await until('running', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state === 'running')
    const cmd = ['sh', '-c', 'tty; stty size; read -r x; stty size; echo "got $x"; exit 6'].map((a) => `cmd=${encodeURIComponent(a)}`).join('&')
    const s = await execSocket(job.id, `${cmd}&stdin=true&tty=true&rows=30&cols=90`)
    await until('the first size', async () => s.out().includes('30 90'))
    s.ws.send(JSON.stringify({ resize: { rows: 45, cols: 120 } }))
    // the resize went in before the keystrokes behind it (in order on the socket)
    s.ws.send(Buffer.from('hi\r'))
    expect(await s.end).toEqual({ exitCode: 6, signal: null, timedOut: false })
    expect(s.errors).toEqual([])
    expect(s.out()).toMatch(/^\/dev\/pts\/\d+\r\n30 90\r\nhi\r\n45 120\r\ngot hi\r\n$/)
    // without a terminal: pipes, stdin to EOF
    const p = await execSocket(job.id, `cmd=sh&cmd=-c&cmd=${encodeURIComponent('test -t 0 || echo no-tty; cat')}&stdin=true`)
    p.ws.send(JSON.stringify({ stdin: 'abc\n' }))
    p.ws.send(JSON.stringify({ eof: true }))
    expect(await p.end).toMatchObject({ exitCode: 0 })
    expect(p.out()).toBe('no-tty\nabc\n')
    // a missing command ends with the error (docker's 127), without the runtime's own line
    const m = await execSocket(job.id, 'cmd=nosuch-command&tty=true')
    expect(await m.end).toBeUndefined()
    expect(m.errors).toMatchObject([{ code: 'EXECUTABLE_NOT_FOUND', field: 'cmd' }])
    expect(m.out()).not.toMatch(/not found/)
    await d.api('POST', `/jobs/${job.id}/kill`)
  })

  /** An upgrade the daemon answers without upgrading: its status and body. */
  async function refused(path: string): Promise<{ status: number; body: any }> {
    const ws = new WebSocket(await ticketUrl(path))
    return new Promise((resolve, reject) => {
      ws.on('open', () => reject(new Error(`${path}: upgraded`)))
      ws.on('unexpected-response', (_q, res) => {
        let b = ''
        res.on('data', (c: Buffer) => (b += c))
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(b) }))
      })
    })
  }

  it('bad parameters are a 400 naming the parameter before the upgrade; a job not running is 409', async () => {
    const job = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'] })).json
    await until('running', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state === 'running')
    for (const [q, field] of [
      ['', 'cmd'], ['cmd=sh&tty=yes', 'tty'], ['cmd=sh&tty=true&rows=0', 'rows'], ['cmd=sh&cols=80', 'cols'], ['cmd=sh&workdir=tmp', 'workdir'],
      ['cmd=sh&env=NOEQUALS', 'env'], ['cmd=sh&timeout=abc', 'timeout'], ['cmd=sh&colour=red', 'colour'], ['cmd=sh&stdin=1', 'stdin'],
    ] as const) {
      const r = await refused(`/jobs/${job.id}/exec/ws?${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error, q).toMatchObject({ code: 'INVALID_ARGUMENT', field })
    }
    await d.api('POST', `/jobs/${job.id}/kill`)
    await until('killed', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state !== 'running')
    const r = await refused(`/jobs/${job.id}/exec/ws?cmd=true`)
    expect(r.status).toBe(409)
    expect(r.body.error.code).toBe('JOB_NOT_RUNNING')
    expect((await refused('/jobs/nosuchjob/exec/ws?cmd=true')).status).toBe(404)
  })
})
