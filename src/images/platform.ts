import { invalidPlatform, noMatchingPlatform } from './errors.js'
import type { Descriptor, Platform } from './types.js'

// Platform matching as containerd's platforms.Only/Default: os and architecture must match;
// a variant is compared only when both sides name one (arm64 defaults to v8, amd64 to v1).
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' }
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', amd64: 'v1' }

/** "linux/arm64/v8" → { os, architecture, variant }. Pure. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p)))
    throw invalidPlatform(s, 'expected os/arch[/variant], e.g. linux/amd64')
  const [os, arch, variant] = parts as [string, string, string?]
  const architecture = ARCH_ALIASES[arch.toLowerCase()] ?? arch.toLowerCase()
  return { os: os.toLowerCase(), architecture, ...(variant ? { variant: variant.toLowerCase() } : {}) }
}

export const formatPlatform = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/')

export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || want.architecture !== (ARCH_ALIASES[have.architecture] ?? have.architecture)) return false
  if (!want.variant || !have.variant) return true
  const norm = (v: string) => (v === DEFAULT_VARIANT[want.architecture] ? '' : v)
  return norm(want.variant) === norm(have.variant)
}

/** Pick the manifest for `want` from an index's entries; the first exact match wins.
 *  Throws NO_MATCHING_PLATFORM listing what the index offers. */
export function selectManifest(manifests: readonly Descriptor[], want: Platform): Descriptor {
  const withPlatform = manifests.filter((m) => m.platform)
  const hit = withPlatform.find((m) => platformMatches(want, m.platform!))
  if (hit) return hit
  throw noMatchingPlatform(formatPlatform(want), withPlatform.map((m) => formatPlatform(m.platform!)))
}
