import { execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../../src/db/open.js'
import { createImageService, type ImageServiceOptions } from '../../../src/images/index.js'
import type { TestRegistry } from '../../helpers/registry.js'

export type Svc = ReturnType<typeof createImageService>

/** An image service on a fresh temp root + SQLite file. */
export function tmpService(opts: Partial<ImageServiceOptions> = {}, reg?: TestRegistry) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-img-'))
  const { db, sqlite, close } = openDb(join(dir, 'state.db'))
  const auth = reg && reg.auth !== 'none' ? { [reg.host]: { username: reg.username, password: reg.password } } : undefined
  const svc = createImageService({ db, root: join(dir, 'images'), ...opts, registries: { dockerConfig: false, ...(auth ? { auth } : {}), ...opts.registries } })
  return {
    dir,
    svc,
    sqlite,
    counts: async () => ({
      blobs: (await readdir(join(dir, 'images/content/blobs/sha256')).catch(() => [])).length,
      snapshots: (await svc.snapshots.list()).length,
      images: (sqlite.prepare('select count(*) n from images').get() as { n: number }).n,
      layers: (sqlite.prepare('select count(*) n from layers').get() as { n: number }).n,
    }),
    async dispose() {
      await svc.close()
      close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Mount the layers read-only with overlayfs (as the runtime will) and run fn on the merged view. */
export async function withMerged<T>(lowerDirs: string[], fn: (root: string) => Promise<T> | T): Promise<T> {
  const tmp = mkdtempSync(join(tmpdir(), 'skiff-merged-'))
  const mnt = join(tmp, 'm')
  const empty = join(tmp, 'empty')
  mkdirSync(mnt)
  mkdirSync(empty)
  const dirs = lowerDirs.length === 1 ? [...lowerDirs, empty] : lowerDirs
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${dirs.join(':')}`, mnt])
  try {
    return await fn(mnt)
  } finally {
    execFileSync('umount', [mnt])
    rmSync(tmp, { recursive: true, force: true })
  }
}
