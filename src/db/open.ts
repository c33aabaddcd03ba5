import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../lib/paths.js'
import * as schema from './schema.js'

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database }
export { schema }

export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'migrations')

/** Open the state database: WAL (readers never block the writer; a crash loses
 *  nothing committed), synchronous=NORMAL is durable in WAL mode against a
 *  process crash, which is the kill -9 promise; FULL for power loss. */
export function openDb(file: string, opts: { synchronous?: 'NORMAL' | 'FULL' } = {}): { db: Db; sqlite: Database.Database; close(): void } {
  const sqlite = new Database(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma(`synchronous = ${opts.synchronous ?? 'NORMAL'}`)
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite, { schema })
  migrate(db, { migrationsFolder: MIGRATIONS_DIR })
  return { db, sqlite, close: () => sqlite.close() }
}
