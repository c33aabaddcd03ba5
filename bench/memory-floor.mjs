// The floor of the memory row: the smallest daemon this stack makes. Node 20 with
// the fixed core packages (hono on @hono/node-server, better-sqlite3 in WAL mode,
// ws loaded), serving POST /run on a unix socket by writing a row and updating it,
// and no containers at all. Started with the daemon's own V8 flags; it gives memory
// back the way the daemon does when idle (full GC + malloc_trim through the addon),
// on SIGUSR2, then prints "reclaimed". Usage: node <flags> memory-floor.mjs SOCKET DBFILE
import { getRequestListener } from '@hono/node-server'
import Database from 'better-sqlite3'
import { Hono } from 'hono'
import { createRequire } from 'node:module'
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const [socket, dbFile] = process.argv.slice(2)
const db = new Database(dbFile)
db.pragma('journal_mode = WAL')
db.exec('create table if not exists jobs (id text primary key, spec text not null, state text not null)')
const insert = db.prepare('insert into jobs (id, spec, state) values (?, ?, ?)')
const update = db.prepare('update jobs set state = ? where id = ?')
let n = 0
const app = new Hono()
app.get('/healthz', (c) => c.text('ok'))
app.post('/run', async (c) => {
  const spec = await c.req.json()
  const id = `${Date.now()}-${++n}`
  insert.run(id, JSON.stringify(spec), 'created')
  update.run('exited', id)
  return c.json({ id, exitCode: 0 })
})
const server = createServer(getRequestListener(app.fetch))
new WebSocketServer({ noServer: true })
const sys = createRequire(import.meta.url)('../native/build/Release/skiff_sys.node')
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  sys.mallocTrim?.()
  process.stdout.write('reclaimed\n')
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
server.listen(socket, () => process.stdout.write('ready\n'))
