import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root (holds package.json), whether running from src/ via tsx or from dist/. */
export const PACKAGE_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(d, 'package.json')) || d.endsWith('/dist')) {
    const up = dirname(d)
    if (up === d) throw new Error('package root not found')
    d = up
  }
  return d
})()
