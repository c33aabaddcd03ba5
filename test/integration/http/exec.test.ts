import { beforeAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'

// docker exec through a real daemon into a real crun container.
const daemon = useBusyboxDaemon()
let d: TestDaemon
let job: string
beforeAll(async () => {
  d = daemon()
  job = (await d.api('POST', '/run', { image: 'busybox', cmd: ['sleep', '100000'] })).json.id
  for (let i = 0; i < 500 && (await d.api('GET', `/jobs/${job}`)).json.state !== 'running'; i++) await new Promise((r) => setTimeout(r, 20))
})

const exec = (body: Record<string, unknown>) => d.api('POST', `/jobs/${job}/exec`, body)

/** POST …/exec with Accept: application/x-ndjson; lines as they arrive. */
async function* execLines(body: Record<string, unknown>): AsyncGenerator<any> {
  const r = await d.raw('POST', `/jobs/${job}/exec`, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' } })
  expect(r.statusCode).toBe(200)
  expect(String(r.headers['content-type'])).toContain('application/x-ndjson')
  let buf = ''
  for await (const chunk of r.body) {
    buf += chunk.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      yield JSON.parse(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
  }
}

describe('exec', () => {
  it('answers with the exit code, stdout and stderr apart', async () => {
    const r = await exec({ cmd: 'echo out; echo err >&2; exit 3' })
    expect(r.status).toBe(200)
    expect(r.json).toMatchObject({ exitCode: 3, signal: null, timedOut: false, stdout: 'out\n', stderr: 'err\n' })
  })

  it('-u nobody is resolved against the container\'s /etc/passwd, as run does', async () => {
    const r = await exec({ cmd: 'id; echo "home=$HOME"', user: 'nobody' })
    expect(r.json, r.text).toMatchObject({ exitCode: 0 })
    expect(r.json.stdout).toMatch(/^uid=65534\(nobody\) gid=65534/)
    expect(r.json.stdout).toContain(`home=${(await exec({ cmd: 'grep ^nobody: /etc/passwd | cut -d: -f6' })).json.stdout.trim()}\n`)
    expect((await exec({ cmd: ['id', '-u'], user: '1234:5678' })).json.stdout).toBe('1234\n')
    const bad = await exec({ cmd: ['id'], user: 'nosuchuser' })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatchObject({ code: 'UNKNOWN_USER', field: 'user' })
  })

  it('a missing command is EXECUTABLE_NOT_FOUND (docker\'s 127), a non-executable one EXECUTABLE_NOT_RUNNABLE (126)', async () => {
    const r = await exec({ cmd: ['nosuch-command'] })
    expect(r.status).toBe(400)
    expect(r.json.error).toMatchObject({ code: 'EXECUTABLE_NOT_FOUND', field: 'cmd' })
    const n = await exec({ cmd: ['/etc/passwd'] })
    expect(n.status).toBe(400)
    expect(n.json.error).toMatchObject({ code: 'EXECUTABLE_NOT_RUNNABLE', field: 'cmd' })
    // a command's own exit 255 stays an exit code
    expect((await exec({ cmd: 'exit 255' })).json).toMatchObject({ exitCode: 255 })
  })

  it('timeout kills the exec\'d process and says so; the job runs on', async () => {
    const r = await exec({ cmd: ['sh', '-c', 'echo started; exec tail -f /dev/null'], timeout: '300ms' })
    expect(r.status, r.text).toBe(200)
    expect(r.json).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true, stdout: 'started\n' })
    const ps = await exec({ cmd: ['ps', '-o', 'args'] })
    expect(ps.json.stdout).not.toContain('tail -f')
    expect((await d.api('GET', `/jobs/${job}`)).json.state).toBe('running')
  })

  it('streams output as NDJSON while the command runs, then the exit', async () => {
    await exec({ cmd: ['rm', '-f', '/tmp/go'] })
    const lines = execLines({ cmd: 'echo one; echo two >&2; while [ ! -f /tmp/go ]; do usleep 20000; done; echo three; exit 4' })
    const seen: any[] = []
    // the first two lines arrive while the command still waits for /tmp/go
    while (seen.filter((l) => l.stream).length < 2) seen.push((await lines.next()).value)
    expect(seen).toEqual(expect.arrayContaining([{ stream: 'stdout', data: 'one\n' }, { stream: 'stderr', data: 'two\n' }]))
    expect((await exec({ cmd: ['touch', '/tmp/go'] })).json.exitCode).toBe(0)
    for await (const l of lines) seen.push(l)
    expect(seen.slice(-2)).toEqual([{ stream: 'stdout', data: 'three\n' }, { exit: { exitCode: 4, signal: null, timedOut: false } }])
  })

  it('streams binary output as data64, and errors as the last line', async () => {
    const out: any[] = []
    for await (const l of execLines({ cmd: ['printf', '\\377\\376'] })) out.push(l)
    expect(out).toEqual([{ stream: 'stdout', data64: Buffer.from([0xff, 0xfe]).toString('base64') }, { exit: { exitCode: 0, signal: null, timedOut: false } }])
    const err: any[] = []
    for await (const l of execLines({ cmd: ['nosuch-command'] })) err.push(l)
    expect(err.at(-1)).toMatchObject({ error: { code: 'EXECUTABLE_NOT_FOUND' } })
  })

  it('stdin data reaches the command; exec into a job that has ended is 409', async () => {
    expect((await exec({ cmd: ['wc', '-c'], stdin: 'hello' })).json).toMatchObject({ exitCode: 0, stdout: '5\n' })
    const done = (await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'] })).json
    const r = await d.api('POST', `/jobs/${done.id}/exec`, { cmd: ['true'] })
    expect(r.status).toBe(409)
    expect(r.json.error.code).toBe('JOB_NOT_RUNNING')
  })
})
