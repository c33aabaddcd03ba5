// Where the time of one POST /run?wait=true goes, by job state transition (from
// the job's event history). Profile the daemon under it with
//   SKIFF_DAEMON_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' npx tsx bench/trace-api.ts
// N=calls (default 60), NET=host|none.
import { startDaemon, importBusybox, removeDataDir } from '../test/helpers/daemon.js'
const d = await startDaemon({ maxConcurrent: 16 })
try {
  await importBusybox(d)
  const lat: number[] = []
  const ids: string[] = []
  for (let i = 0; i < Number(process.env.N ?? 60); i++) {
    const t0 = performance.now()
    const r = await d.api('POST', '/run?wait=true', { image: 'busybox', cmd: ['true'], ...(process.env.NET ? { network: { mode: process.env.NET } } : {}) })
    lat.push(performance.now() - t0)
    ids.push(r.json.id)
  }
  const sums: Record<string, number[]> = {}
  for (const id of ids.slice(10)) {
    const ev = (await d.api('GET', `/jobs/${id}/events`)).json
    const list = ev.items
    for (let i = 1; i < list.length; i++) {
      const k = `${list[i - 1].state}->${list[i].state}`
      ;(sums[k] ??= []).push(new Date(list[i].time).getTime() - new Date(list[i - 1].time).getTime())
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
  console.log('lat p50', med(lat.slice(10)))
  for (const [k, v] of Object.entries(sums)) console.log(k, 'p50', med(v), 'avg', (v.reduce((a, b) => a + b, 0) / v.length).toFixed(1))
} finally {
  await d.stop()
  removeDataDir(d.dataDir)
}
