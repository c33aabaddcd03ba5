import { beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { useBusyboxDaemon, type TestDaemon } from '../helpers/daemon.js'

const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const numbers = (text: string) => text.split('\n').filter(Boolean).map(Number)

describe('kill -9 of the daemon while a job prints', () => {
  it('keeps every line, and a follower attached after the restart gets the rest live', async () => {
    // 0..149, then held until /tmp/go exists (so the second half is live after the attach, however slow the restart), then 150..299
    const job = (await d.api('POST', '/run', { image: 'busybox', cmd: 'i=0; while [ $i -lt 300 ]; do if [ $i -eq 150 ]; then while [ ! -f /tmp/go ]; do usleep 10000; done; fi; echo $i; i=$((i+1)); usleep 5000; done' })).json
    for (let i = 0; i < 1000 && !(await d.api('GET', `/jobs/${job.id}/logs`)).text.includes('\n20\n'); i++) await new Promise((r) => setTimeout(r, 10))
    await d.kill9()
    await d.restart()
    // follow over WebSocket from offset 0 after the restart: everything, then the exit
    const url = `ws://127.0.0.1:${d.port}/jobs/${job.id}/logs/ws?from=0`
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${d.token}` } })
    const chunks: string[] = []
    let exit: unknown
    let liveAfterAttach = 0
    let released = false
    const attachedAt = Date.now()
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        const msg = JSON.parse(m.toString()) as { data?: string; data64?: string; exit?: unknown; time?: string }
        if (msg.exit) {
          exit = msg.exit
          ws.close()
          return
        }
        const text = msg.data ?? Buffer.from(msg.data64 ?? '', 'base64').toString()
        if (msg.time && Date.parse(msg.time) > attachedAt) liveAfterAttach += text.split('\n').filter(Boolean).length
        chunks.push(text)
        if (!released && chunks.join('').includes('\n149\n')) {
          released = true
          // a pooled connection the daemon closed while idle can fail a POST (EPIPE): try again
          const release = (n: number): Promise<unknown> => d.api('POST', `/jobs/${job.id}/exec`, { cmd: ['touch', '/tmp/go'] }).catch((e) => (n > 0 ? release(n - 1) : reject(e)))
          void release(3)
        }
      })
      ws.on('close', () => resolve())
      ws.on('error', reject)
    })
    expect(numbers(chunks.join(''))).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect(liveAfterAttach).toBeGreaterThan(0)
    expect(exit).toMatchObject({ exitCode: 0 })
    const stored = await d.api('GET', `/jobs/${job.id}/logs`)
    expect(numbers(stored.text)).toEqual(Array.from({ length: 300 }, (_, i) => i))
    expect((await d.api('GET', `/jobs/${job.id}`)).json).toMatchObject({ state: 'exited', exitCode: 0 })
  }, 60_000)
})

describe('kill -9 of the daemon while an interactive job waits on stdin', () => {
  it('the job reads EOF (its monitor closes stdin with our connection), finishes, and is recorded truthfully; later writes are refused', async () => {
    const job = (await d.api('POST', '/run', { image: 'busybox', interactive: true, cmd: 'while read -r l; do echo "got $l"; done; echo eof; exit 4' })).json
    const w = await d.raw('POST', `/jobs/${job.id}/stdin`, { body: 'before\n' })
    expect(w.statusCode).toBe(200)
    await w.body.text()
    await d.kill9()
    await d.restart()
    const done = await d.api('POST', `/jobs/${job.id}/wait?timeout=15s`)
    expect(done.json).toMatchObject({ state: 'exited', exitCode: 4, stdout: 'got before\neof\n' })
    const late = await d.raw('POST', `/jobs/${job.id}/stdin`, { body: 'after\n' })
    expect(late.statusCode).toBe(409)
    expect(((await late.body.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_RUNNING')
  }, 60_000)
})
