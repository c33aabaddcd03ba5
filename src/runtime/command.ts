import type { ImageConfig } from '../images/types.js'
import { noCommand } from './errors.js'
import { DEFAULT_PATH } from './spec-defaults.js'

/** docker's Entrypoint/Cmd rules: a request's entrypoint replaces the image's
 *  and then drops the image's Cmd; a request's cmd replaces the image's Cmd. */
export function resolveArgs(image: ImageConfig, req: { entrypoint?: string[]; cmd?: string[] }): string[] {
  const entrypoint = req.entrypoint ?? image.Entrypoint ?? []
  const cmd = req.cmd ?? (req.entrypoint !== undefined ? [] : (image.Cmd ?? []))
  const args = [...entrypoint, ...cmd]
  if (!args.length) throw noCommand()
  return args
}

/** Image Env, then request env on top; PATH and HOSTNAME defaulted like docker. */
export function mergeEnv(imageEnv: string[] | undefined, req: Record<string, string>, extra: { hostname?: string; home?: string } = {}): string[] {
  const m = new Map<string, string>()
  m.set('PATH', DEFAULT_PATH)
  if (extra.hostname) m.set('HOSTNAME', extra.hostname)
  for (const kv of imageEnv ?? []) {
    const i = kv.indexOf('=')
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1))
  }
  for (const [k, v] of Object.entries(req)) m.set(k, v)
  if (extra.home && !m.has('HOME')) m.set('HOME', extra.home)
  return [...m].map(([k, v]) => `${k}=${v}`)
}
