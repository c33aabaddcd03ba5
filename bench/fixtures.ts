// What several benches prepare the same way: a busybox rootfs on disk and a bare
// crun bundle of it (crun's default spec), the peers' common ground.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../src/lib/paths.js'

/** `<dir>/rootfs`, unpacked from `<dir>/bb.tar` (scripts/make-busybox-rootfs). */
export function busyboxRootfs(dir: string): string {
  const rootfs = join(dir, 'rootfs')
  mkdirSync(rootfs)
  const tar = join(dir, 'bb.tar')
  execFileSync('bash', [join(PACKAGE_ROOT, 'scripts/make-busybox-rootfs'), tar])
  execFileSync('tar', ['-C', rootfs, '-xf', tar])
  return rootfs
}

/** `<dir>/bundle`: crun's default spec on `rootfs` (read-only, no terminal) running `args`. */
export function crunBundle(dir: string, rootfs: string, args: string[]): string {
  const bundle = join(dir, 'bundle')
  mkdirSync(bundle)
  execFileSync('crun', ['spec'], { cwd: bundle })
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'))
  spec.root = { path: rootfs, readonly: true }
  spec.process.terminal = false
  spec.process.args = args
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec))
  return bundle
}
