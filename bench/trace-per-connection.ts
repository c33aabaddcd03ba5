// Where connect → first byte of a per-connection service goes: the connection
// job's state transitions (its event history), and what is left after `running`
// (the container's first write reaching the socket through the log follow).
// N=connections (default 40).
import { connect } from 'node:net'
import { freePort, importBusybox, removeDataDir, startDaemon } from '../test/helpers/daemon.js'

const d = await startDaemon()
try {
  await importBusybox(d)
  const port = await freePort()
  const l = await d.api('POST', '/run', { image: 'busybox', cmd: 'echo ready; exec cat', listen: { port, per_connection: true } })
  while ((await d.api('GET', `/jobs/${l.json.id}`)).json.state !== 'running') await new Promise((r) => setTimeout(r, 20))
  const first: { t0: number; t1: number }[] = []
  for (let i = 0; i < Number(process.env.N ?? 40); i++) {
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now()
      const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
      let got = false
      s.on('data', () => {
        if (!got) first.push({ t0, t1: Date.now() }), (got = true), s.end('x\n')
      })
      s.on('end', () => (s.destroy(), resolve()))
      s.on('error', reject)
    })
    await new Promise((r) => setTimeout(r, 50))
  }
  const kids = (await d.api('GET', `/jobs?parent=${l.json.id}&limit=1000`)).json.items.reverse()
  const sums: Record<string, number[]> = {}
  for (let k = 5; k < kids.length; k++) {
    const ev = (await d.api('GET', `/jobs/${kids[k].id}/events`)).json.items
    const f = first[k]!
    const add = (key: string, v: number) => (sums[key] ??= []).push(v)
    add('connect->queued', new Date(ev[0].time).getTime() - f.t0)
    for (let i = 1; i < ev.length; i++) add(`${ev[i - 1].state}->${ev[i].state}`, new Date(ev[i].time).getTime() - new Date(ev[i - 1].time).getTime())
    const running = ev.find((e: any) => e.state === 'running')
    add('running->first byte', f.t1 - new Date(running.time).getTime())
    add('connect->first byte', f.t1 - f.t0)
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
  for (const [k, v] of Object.entries(sums)) console.log(k.padEnd(24), 'p50', med(v), 'avg', (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1))
} finally {
  await d.stop()
  removeDataDir(d.dataDir)
}
