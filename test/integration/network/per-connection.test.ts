import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { beforeAll, describe, expect, it } from 'vitest'
import { freePort, useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'
import { runSkiff } from '../../helpers/skiff-cli.js'
import { waitFor } from '../../helpers/wait.js'

// issue #10, per-connection services, through the real daemon and crun: each TCP
// connection to the listener gets its own fresh container with the connection as
// its stdin/stdout. Traffic only to 127.0.0.1.
const daemon = useBusyboxDaemon({ maxConcurrent: 32 })
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

/** Connect, send `input` (then FIN unless keepOpen), collect everything until the server's FIN. */
function session(port: number, input: Buffer | string, o: { halfClose?: boolean } = {}): Promise<{ out: Buffer; sock: Socket }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    const chunks: Buffer[] = []
    sock.on('data', (b: Buffer) => chunks.push(b))
    sock.on('end', () => {
      sock.end()
      resolve({ out: Buffer.concat(chunks), sock })
    })
    sock.on('error', reject)
    sock.on('connect', () => {
      sock.write(input)
      if (o.halfClose !== false) sock.end()
    })
  })
}

/** Read from the socket until `n` bytes (or the predicate) arrived. */
function readUntil(sock: Socket, done: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const on = (b: Buffer) => {
      got = Buffer.concat([got, b])
      if (done(got)) {
        sock.off('data', on)
        resolve(got)
      }
    }
    sock.on('data', on)
    sock.once('error', reject)
    sock.once('end', () => (done(got) ? resolve(got) : reject(new Error(`ended after ${got.length} bytes: ${JSON.stringify(got.toString().slice(0, 200))}`))))
  })
}

async function listener(body: Record<string, unknown>): Promise<{ id: string; port: number }> {
  const port = await freePort()
  const r = await d.api('POST', '/run', { image: 'busybox', ...body, listen: { port, per_connection: true, ...(body.listen as object) } })
  expect(r.status, r.text).toBe(201)
  await waitFor('the listener to run', async () => {
    const j = (await d.api('GET', `/jobs/${r.json.id}`)).json
    if (j.state !== 'running' && !['queued', 'pulling', 'starting'].includes(j.state)) throw new Error(`listener is ${j.state}: ${j.message}`)
    return j.state === 'running'
  })
  return { id: r.json.id, port }
}

const children = async (id: string) => (await d.api('GET', `/jobs?parent=${id}&limit=1000`)).json.items as any[]
const settled = (s: string) => !['queued', 'pulling', 'starting', 'running'].includes(s)

describe('per-connection services', () => {
  it('one connection: a fresh container with the connection as stdin/stdout; half-close is its EOF; the job ends and is accounted', async () => {
    const l = await listener({ cmd: 'hostname; echo $$; cat; echo done' })
    const { out } = await session(l.port, 'hello\n')
    const lines = out.toString().split('\n')
    expect(lines[1]).toBe('1') // its own pid namespace
    expect(lines.slice(2)).toEqual(['hello', 'done', ''])
    const kids = await waitFor('the connection job to settle', async () => {
      const k = await children(l.id)
      return k.length === 1 && settled(k[0].state) && k
    })
    expect(kids[0]).toMatchObject({ state: 'exited', exitCode: 0, parentId: l.id, interactive: true })
    expect(lines[0]).toBe(kids[0].id.toLowerCase().slice(-12))
    // the connection's own log holds its output
    const logs = await d.api('GET', `/jobs/${kids[0].id}/logs`)
    expect(logs.text).toContain('hello\ndone\n')
    const parent = (await d.api('GET', `/jobs/${l.id}`)).json
    expect(parent.state).toBe('running')
    expect(parent.listen).toMatchObject({ hostIp: '127.0.0.1', port: l.port, connections: { active: 0, total: 1, refused: 0 } })
    await d.api('POST', `/jobs/${l.id}/stop`)
    expect((await d.api('GET', `/jobs/${l.id}`)).json.state).toBe('stopped')
    // closed: nobody answers on the port
    await expect(session(l.port, 'x')).rejects.toThrow(/ECONNREFUSED/)
  })

  it('20 concurrent connections: 20 containers (distinct hostnames, each alone in its pid namespace), each echoing its own bytes back exactly', async () => {
    const l = await listener({ cmd: 'hostname; echo $$; test -e /mark && echo dirty; touch /mark; cat', listen: { max_connections: 20 } })
    const inputs = Array.from({ length: 20 }, (_, i) => Buffer.concat([Buffer.from(`conn ${i}\n`), randomBytes(4096 + i)]))
    const outs = await Promise.all(inputs.map((b) => session(l.port, b)))
    const hosts = new Set<string>()
    outs.forEach(({ out }, i) => {
      const nl1 = out.indexOf(10)
      const nl2 = out.indexOf(10, nl1 + 1)
      hosts.add(out.subarray(0, nl1).toString())
      expect(out.subarray(nl1 + 1, nl2).toString()).toBe('1') // pid 1: its own pid namespace
      expect(out.subarray(nl2 + 1).equals(inputs[i]!), `connection ${i}: ${out.length} bytes back for ${inputs[i]!.length}`).toBe(true)
    })
    expect(hosts.size).toBe(20)
    const kids = await waitFor('20 settled connection jobs', async () => {
      const k = await children(l.id)
      return k.length === 20 && k.every((c) => settled(c.state)) && k
    })
    expect(kids.every((k) => k.state === 'exited' && k.exitCode === 0)).toBe(true)
    expect((await d.api('GET', `/jobs/${l.id}`)).json.listen.connections).toEqual({ active: 0, total: 20, refused: 0 })
    const rm = await d.api('DELETE', `/jobs/${l.id}?force=true`)
    expect(rm.status).toBeLessThan(300)
    expect(await children(l.id)).toEqual([]) // removed with their listener
  }, 120_000)

  it('binary both ways: all 256 byte values, then 1 MiB of random bytes, come back exactly', async () => {
    const l = await listener({ cmd: ['cat'] })
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    expect((await session(l.port, all)).out.equals(all)).toBe(true)
    const big = randomBytes(1024 * 1024)
    const { out } = await session(l.port, big)
    expect(out.length).toBe(big.length)
    expect(out.equals(big)).toBe(true)
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
  }, 120_000)

  it('half-close: the job reads EOF and its output after that still arrives; closing the connection ends its container', async () => {
    const l = await listener({ cmd: 'echo ready; cat >/tmp/in; echo got $(wc -c </tmp/in) bytes; sleep 0.2; echo bye' })
    const { out } = await session(l.port, 'x'.repeat(1000))
    expect(out.toString()).toBe('ready\ngot 1000 bytes\nbye\n')

    // a job that never ends by itself: the peer's close kills it (noticed at the
    // job's next write, which the closed peer answers with a reset: a FIN alone is
    // a half-close, and a silent job is ended by listen.timeout)
    const l2 = await listener({ cmd: 'echo ready; while :; do echo tick; sleep 0.05; done' })
    const sock = connect({ host: '127.0.0.1', port: l2.port })
    await readUntil(sock, (b) => b.toString().includes('ready\n'))
    sock.destroy()
    const k = await waitFor('the connection job to be killed', async () => {
      const ks = await children(l2.id)
      return ks.length === 1 && settled(ks[0].state) && ks[0]
    })
    expect(k).toMatchObject({ state: 'killed', reason: 'connection-closed' })
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
    await d.api('DELETE', `/jobs/${l2.id}?force=true`)
  }, 60_000)

  it('max_connections: one connection more is refused (reset, counted) until one ends; stopping the listener kills its connections', async () => {
    const l = await listener({ cmd: 'echo ready; cat', listen: { max_connections: 2 } })
    const open = () => {
      const sock = connect({ host: '127.0.0.1', port: l.port, allowHalfOpen: true })
      sock.on('error', () => {})
      return sock
    }
    const a = open()
    const b = open()
    await Promise.all([readUntil(a, (x) => x.toString() === 'ready\n'), readUntil(b, (x) => x.toString() === 'ready\n')])
    // the third: accepted by the kernel, reset by the listener without a byte
    const c = connect({ host: '127.0.0.1', port: l.port })
    const got: Buffer[] = []
    c.on('data', (x: Buffer) => got.push(x))
    await new Promise<void>((resolve) => c.on('close', () => resolve()).on('error', () => {}))
    expect(Buffer.concat(got).length).toBe(0)
    expect((await d.api('GET', `/jobs/${l.id}`)).json.listen.connections).toEqual({ active: 2, total: 2, refused: 1 })
    // one ends (EOF → cat exits): a slot is free again
    a.end()
    await waitFor('a free slot', async () => (await d.api('GET', `/jobs/${l.id}`)).json.listen.connections.active === 1)
    const { out } = await session(l.port, 'again\n')
    expect(out.toString()).toBe('ready\nagain\n')
    // stop: the listener closes and b's job is killed; b's socket ends
    const bEnded = new Promise<void>((resolve) => b.on('end', () => resolve()).on('close', () => resolve()))
    const stop = await d.api('POST', `/jobs/${l.id}/stop`)
    expect(stop.status).toBe(200)
    expect(stop.json.state).toBe('stopped')
    await bEnded
    const kids = await children(l.id)
    expect(kids.map((k) => [k.state, k.reason]).sort()).toEqual([['exited', null], ['exited', null], ['killed', 'listener-closed']])
    expect((await d.api('GET', `/jobs/${l.id}`)).json.listen.connections).toEqual({ active: 0, total: 3, refused: 1 })
    b.destroy()
    await d.api('DELETE', `/jobs/${l.id}`)
  }, 60_000)

  it('daemon kill -9: the listener listens again after the restart; a connection from before is recorded as lost and its container ended', async () => {
    const l = await listener({ cmd: 'echo ready; cat' })
    const a = connect({ host: '127.0.0.1', port: l.port })
    a.on('error', () => {})
    await readUntil(a, (x) => x.toString() === 'ready\n')
    const [before] = await children(l.id)
    expect(before.state).toBe('running')
    await d.kill9()
    await new Promise<void>((resolve) => (a.destroyed ? resolve() : a.on('close', () => resolve())))
    await d.restart()
    const lost = await waitFor('the lost connection to settle', async () => {
      const j = (await d.api('GET', `/jobs/${before.id}`)).json
      return settled(j.state) && j
    })
    expect(lost).toMatchObject({ state: 'killed', reason: 'connection-lost' })
    expect((await d.api('GET', `/jobs/${l.id}`)).json).toMatchObject({ state: 'running', listen: { connections: { active: 0, total: 1, refused: 0 } } })
    const { out } = await session(l.port, 'after\n')
    expect(out.toString()).toBe('ready\nafter\n')
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
  }, 120_000)

  it('listen.timeout: a connection whose job neither reads nor ends is killed (timed_out) and its socket ended', async () => {
    const l = await listener({ cmd: 'echo ready; exec sleep 600', listen: { timeout: '1s' } })
    const { out } = await session(l.port, '', { halfClose: false })
    expect(out.toString()).toBe('ready\n')
    const [k] = await waitFor('the connection job to settle', async () => {
      const ks = await children(l.id)
      return ks.length === 1 && settled(ks[0].state) && ks
    })
    expect(k).toMatchObject({ state: 'timed_out', timedOut: true })
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
  }, 60_000)

  it('cli: skiff run -d --listen --per-connection --max-connections --conn-timeout; skiff port; a usage error for --per-connection alone', async () => {
    const port = await freePort()
    const r = await runSkiff(d, ['run', '-d', '--listen', `127.0.0.1:${port}`, '--per-connection', '--max-connections', '3', '--conn-timeout', '30s', 'busybox', 'cat'])
    expect(r.code, r.stderr).toBe(0)
    const id = r.stdout.trim()
    const job = await waitFor('the listener to run', async () => {
      const j = (await d.api('GET', `/jobs/${id}`)).json
      return j.state === 'running' && j
    })
    expect(job.listen).toMatchObject({ hostIp: '127.0.0.1', port, maxConnections: 3, timeoutMs: 30_000 })
    expect((await runSkiff(d, ['port', id])).stdout).toBe(`per-connection/tcp -> 127.0.0.1:${port}\n`)
    expect((await session(port, 'via cli\n')).out.toString()).toBe('via cli\n')
    const bad = await runSkiff(d, ['run', '-d', '--per-connection', 'busybox', 'cat'])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/--per-connection needs --listen/)
    expect((await runSkiff(d, ['rm', '-f', id])).code).toBe(0)
  }, 60_000)

  it('PORT_IN_USE both ways before a job exists: a second listener on the port, a job publishing it; each names the listener', async () => {
    const l = await listener({ name: 'pwn-port', cmd: ['cat'] })
    const again = await d.api('POST', '/run', { image: 'busybox', cmd: ['cat'], listen: { port: l.port, per_connection: true } })
    expect(again.status).toBe(409)
    expect(again.json.error).toMatchObject({ code: 'PORT_IN_USE', field: 'listen.port' })
    expect(again.json.error.message).toContain('job pwn-port')
    const pub = await d.api('POST', '/run', { image: 'busybox', cmd: ['true'], ports: [`${l.port}:80`] })
    expect(pub.status).toBe(409)
    expect(pub.json.error).toMatchObject({ code: 'PORT_IN_USE', field: 'ports[0]' })
    expect(pub.json.error.message).toContain('job pwn-port')
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
  })

  it('listen.keep: settled connection jobs beyond the newest N are removed with their logs; the counts stay', async () => {
    const l = await listener({ cmd: ['cat'], listen: { keep: 2 } })
    for (let i = 0; i < 4; i++) expect((await session(l.port, `${i}\n`)).out.toString()).toBe(`${i}\n`)
    const kids = await waitFor('two connection jobs left', async () => {
      const k = await children(l.id)
      return k.length === 2 && k.every((c) => settled(c.state)) && k
    })
    // the newest two stay, with their logs
    expect((await d.api('GET', `/jobs/${kids[0].id}/logs`)).text).toBe('3\n')
    expect((await d.api('GET', `/jobs/${kids[1].id}/logs`)).text).toBe('2\n')
    expect((await d.api('GET', `/jobs/${l.id}`)).json.listen).toMatchObject({ keep: 2, connections: { active: 0, total: 4, refused: 0 } })
    await d.api('DELETE', `/jobs/${l.id}?force=true`)
  })
})
