import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { invalidCredentials } from '../errors.js'

/** Credentials for one registry (docker config.json vocabulary). */
export interface RegistryCredential {
  username?: string
  password?: string
  /** OAuth2 refresh token (docker's identitytoken). */
  identityToken?: string
  /** A ready bearer token (docker's registrytoken). */
  registryToken?: string
}
/** Registry host (e.g. docker.io, 127.0.0.1:5000) → credentials. */
export type CredentialMap = Record<string, RegistryCredential>

/** "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/x" → "host:5000". Pure. */
export function normalizeRegistryKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '')
  k = k.split('/')[0]!.toLowerCase()
  if (k === 'index.docker.io' || k === 'registry-1.docker.io' || k === 'registry.hub.docker.com') return 'docker.io'
  return k
}

/** Parse ~/.docker/config.json's `auths` (base64 "user:pass" in `auth`, or explicit fields). Pure. */
export function parseDockerConfig(text: string, file = 'docker config'): CredentialMap {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw invalidCredentials(file, `not valid JSON (${(e as Error).message})`)
  }
  const auths = (doc as { auths?: unknown })?.auths
  if (auths === undefined) return {}
  if (typeof auths !== 'object' || auths === null) throw invalidCredentials(file, '"auths" must be an object')
  const out: CredentialMap = {}
  for (const [key, v] of Object.entries(auths as Record<string, Record<string, unknown>>)) {
    if (typeof v !== 'object' || v === null) continue
    const c: RegistryCredential = {}
    if (typeof v.auth === 'string' && v.auth) {
      const dec = Buffer.from(v.auth, 'base64').toString('utf8')
      const colon = dec.indexOf(':')
      if (colon < 0) throw invalidCredentials(file, `auths[${JSON.stringify(key)}].auth is not base64("user:password")`)
      c.username = dec.slice(0, colon)
      c.password = dec.slice(colon + 1)
    }
    if (typeof v.username === 'string') c.username = v.username
    if (typeof v.password === 'string') c.password = v.password
    if (typeof v.identitytoken === 'string' && v.identitytoken) c.identityToken = v.identitytoken
    if (typeof v.registrytoken === 'string' && v.registrytoken) c.registryToken = v.registrytoken
    if (Object.keys(c).length) out[normalizeRegistryKey(key)] = c
  }
  return out
}

/** Merge: explicit skiff config wins over docker's file. Pure. */
export function mergeCredentials(...maps: (CredentialMap | undefined)[]): CredentialMap {
  const out: CredentialMap = {}
  for (const m of maps.reverse()) for (const [k, v] of Object.entries(m ?? {})) out[normalizeRegistryKey(k)] = v
  return out
}

/** Load docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json) when present. */
export async function loadDockerConfig(path = join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json')): Promise<CredentialMap> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return {}
  }
  return parseDockerConfig(text, path)
}
