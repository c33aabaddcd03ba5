import { posix } from 'node:path'
import { unsafeEntry } from './errors.js'

/** Normalise a tar entry name (or hardlink target) to a path relative to the
 *  layer root, like moby's `filepath.IsLocal` check after `filepath.Clean`:
 *  leading slashes are dropped (absolute names are made relative, as GNU tar
 *  does), `.`/`..` components are resolved lexically, and anything that would
 *  still leave the root is refused. The root itself is returned as `.`.
 *  Pure: the kernel never sees the raw name, only the normalised one. */
export function entryName(raw: string): string {
  if (raw.length === 0) throw unsafeEntry(raw, 'empty name')
  if (raw.includes('\0')) throw unsafeEntry(raw, 'name contains a NUL byte')
  const name = posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '')
  if (name === '' || name === '.') return '.'
  if (name === '..' || name.startsWith('../') || name.startsWith('/')) throw unsafeEntry(raw, 'path escapes the layer root')
  return name
}

/** `a/b/c` → `a/b`; top-level names → `.`. */
export function parentOf(name: string): string {
  const i = name.lastIndexOf('/')
  return i < 0 ? '.' : name.slice(0, i)
}

/** `a/b/c` → `c`. */
export function baseOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1)
}

/** Whether `name` is `dir` or lies below it (both normalised). */
export function isWithin(name: string, dir: string): boolean {
  return dir === '.' || name === dir || name.startsWith(dir + '/')
}
