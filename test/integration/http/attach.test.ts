import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { waitFor } from '../../helpers/wait.js'

// Interactive jobs through a real daemon: stdin over the WebSocket /jobs/:id/attach
// and POST /jobs/:id/stdin, into conmon's attach socket of a real crun container.
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const READER = 'while read -r l; do echo "got $l"; done; echo eof'

interface Attached {
  ws: WebSocket
  out: () => string
  errors: { code: string; message: string }[]
  exit: Promise<{ exitCode: number | null; state: string }>
}

function attach(id: string, qs = ''): Promise<Attached> {
  const ws = new WebSocket(`ws://127.0.0.1:${d.port}/jobs/${id}/attach${qs}`, { headers: { authorization: `Bearer ${d.token}` } })
  let text = ''
  const errors: Attached['errors'] = []
  const exit = new Promise<{ exitCode: number | null; state: string }>((resolve, reject) => {
    ws.on('message', (m, binary) => {
      if (binary) throw new Error('json format expected')
      const msg = JSON.parse(m.toString())
      if (msg.exit) resolve(msg.exit)
      else if (msg.error) errors.push(msg.error)
      else text += msg.data ?? Buffer.from(msg.data64 ?? '', 'base64').toString()
    })
    ws.on('close', () => reject(new Error('closed before the exit')))
    ws.on('error', reject)
  })
  exit.catch(() => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, out: () => text, errors, exit }))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (b: Buffer) => (body += b))
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body) })))
    })
    ws.once('error', reject)
  })
}

const run = async (body: Record<string, unknown>) => {
  const r = await d.api('POST', '/run', { image: 'busybox', interactive: true, ...body })
  expect(r.status).toBe(201)
  return r.json as { id: string; interactive: boolean; links: Record<string, string> }
}

describe('interactive jobs: stdin attach', () => {
  it('binary, text and base64 messages reach stdin in order; eof ends the job; the exit arrives last', async () => {
    const job = await run({ cmd: READER })
    expect(job.interactive).toBe(true)
    expect(job.links.attach).toBe(`/jobs/${job.id}/attach`)
    const a = await attach(job.id, '?logs=true')
    a.ws.send(Buffer.from('one\n'))
    a.ws.send(JSON.stringify({ stdin: 'two\n' }))
    a.ws.send(JSON.stringify({ stdin64: Buffer.from('three\n').toString('base64') }))
    a.ws.send(JSON.stringify({ eof: true }))
    expect(await a.exit).toMatchObject({ exitCode: 0, state: 'exited' })
    expect(a.out()).toBe('got one\ngot two\ngot three\neof\n')
    expect(a.errors).toEqual([])
  })

  it('the job waits for input: nothing ends it until stdin closes', async () => {
    const job = await run({ cmd: 'read -r x; echo "read $x"' })
    await waitFor('the job running', async () => (await d.api('GET', `/jobs/${job.id}`)).json.state === 'running')
    // and still running a while later: nothing but stdin ends it
    await new Promise((r) => setTimeout(r, 300))
    expect((await d.api('GET', `/jobs/${job.id}`)).json.state).toBe('running')
    const a = await attach(job.id)
    a.ws.send(JSON.stringify({ stdin: 'late\n' }))
    expect(await a.exit).toMatchObject({ exitCode: 0 })
    // attach without logs=true starts at the current end of the output: only what came after
    expect(a.out()).toBe('read late\n')
  })

  it('3 MB sent faster than the job reads arrive complete (the socket pauses, memory stays bounded)', async () => {
    const job = await run({ cmd: 'sleep 1; wc -c' })
    const a = await attach(job.id, '?logs=true')
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    for (let i = 0; i < 48; i++) a.ws.send(chunk)
    a.ws.send(JSON.stringify({ eof: true }))
    expect(await a.exit).toMatchObject({ exitCode: 0 })
    expect(a.out().trim()).toBe(String(48 * 64 * 1024))
  })

  it('POST /jobs/:id/stdin streams the body in; ?eof=true closes stdin; "stdin" data goes first', async () => {
    const job = await run({ cmd: 'cat', stdin: 'first\n' })
    const w1 = await d.api('POST', `/jobs/${job.id}/stdin`, undefined, {})
    expect(w1.status).toBe(200)
    const r = await d.raw('POST', `/jobs/${job.id}/stdin?eof=true`, { body: 'second\nthird\n' })
    expect(r.statusCode).toBe(200)
    expect(await r.body.json()).toEqual({ written: 13, closed: true })
    const done = await d.api('POST', `/jobs/${job.id}/wait`)
    expect(done.json).toMatchObject({ exitCode: 0, stdout: 'first\nsecond\nthird\n' })
    // stdin is closed now, and the job is gone
    expect((await d.raw('POST', `/jobs/${job.id}/stdin`, { body: 'x' })).statusCode).toBe(409)
  })

  it('refuses what cannot work: 409 for a job without open stdin or one that ended, 404 for no job; bad messages get an error, not a close', async () => {
    const plain = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100'] })).json
    await expect(attach(plain.id)).rejects.toMatchObject({ status: 409, body: { error: { code: 'STDIN_NOT_OPEN' } } })
    const p = await d.raw('POST', `/jobs/${plain.id}/stdin`, { body: 'x' })
    expect(p.statusCode).toBe(409)
    expect(((await p.body.json()) as { error: { code: string } }).error.code).toBe('STDIN_NOT_OPEN')
    await d.api('POST', `/jobs/${plain.id}/kill`, {})
    await expect(attach('no-such-job')).rejects.toMatchObject({ status: 404 })
    await expect(attach(plain.id, '?from=x')).rejects.toMatchObject({ status: 400, body: { error: { field: 'from' } } })

    const ended = await run({ cmd: 'true' })
    await d.api('POST', `/jobs/${ended.id}/stdin?eof=true`)
    await d.api('POST', `/jobs/${ended.id}/wait`)
    await expect(attach(ended.id)).rejects.toMatchObject({ status: 409, body: { error: { code: 'JOB_NOT_RUNNING' } } })
    // with logs=true an ended job still gives its output and exit; input to it is dropped without an error
    const quick = await run({ cmd: 'echo quick; exit 4' })
    expect((await d.api('POST', `/jobs/${quick.id}/wait`)).json).toMatchObject({ state: 'exited' })
    const late = await attach(quick.id, '?logs=true')
    late.ws.send(Buffer.from('ignored\n'))
    expect(await late.exit).toMatchObject({ exitCode: 4, state: 'exited' })
    expect(late.out()).toBe('quick\n')
    expect(late.errors).toEqual([])

    const job = await run({ cmd: READER })
    const a = await attach(job.id, '?logs=true')
    a.ws.send(JSON.stringify({ nonsense: 1 }))
    a.ws.send(JSON.stringify({ stdin: 'ok\n' }))
    a.ws.send(JSON.stringify({ eof: true }))
    expect(await a.exit).toMatchObject({ exitCode: 0 })
    expect(a.errors).toEqual([expect.objectContaining({ code: 'INVALID_ARGUMENT' })])
    expect(a.out()).toBe('got ok\neof\n')
  })

  it('a second attach writes to the same stdin; either one closing it ends the input', async () => {
    const job = await run({ cmd: READER })
    const a = await attach(job.id, '?logs=true')
    const b = await attach(job.id, '?logs=true')
    a.ws.send(Buffer.from('from a\n'))
    await waitFor('a\'s line answered', () => b.out() === 'got from a\n')
    b.ws.send(Buffer.from('from b\n'))
    await waitFor('b\'s line answered', () => a.out() === 'got from a\ngot from b\n')
    b.ws.send(JSON.stringify({ eof: true }))
    const [ea, eb] = await Promise.all([a.exit, b.exit])
    expect(ea).toMatchObject({ exitCode: 0 })
    expect(eb).toMatchObject({ exitCode: 0 })
    expect(a.out()).toBe('got from a\ngot from b\neof\n')
    expect(b.out()).toBe(a.out())
  })
})
