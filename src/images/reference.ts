import { invalidReference } from './errors.js'
import type { Digest, Reference } from './types.js'

// Docker's reference grammar (github.com/distribution/reference, regexp.go + normalize.go):
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [domain '/'] remote-name
//   domain     := host [ ":" port ]; host = domain-component ('.' domain-component)* | '[' ipv6 ']'
//   component  := [a-z0-9]+ ( ( [._] | "__" | [-]+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
// The first path part is a registry only if it contains '.' or ':' or is "localhost"
// (or has uppercase letters); otherwise the name lives on docker.io, with "library/"
// prepended to single-component names.
export const DOCKER_HUB = 'docker.io'
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^sha256:[a-f0-9]{64}$/
const ANY_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/
const HEX64 = /^[a-f0-9]{64}$/
const MAX_NAME = 255

function checkDomain(ref: string, domain: string): void {
  let host = domain
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(domain)
  if (v6) return
  const colon = domain.lastIndexOf(':')
  if (colon >= 0) {
    const port = domain.slice(colon + 1)
    if (!/^\d+$/.test(port)) throw invalidReference(ref, `registry port ${JSON.stringify(port)} is not a number`)
    host = domain.slice(0, colon)
  }
  if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) throw invalidReference(ref, `invalid registry host ${JSON.stringify(host)}`)
}

/** Parse a user-supplied reference the way `docker pull` does. Pure. */
export function parseReference(input: string): Reference {
  const ref = input.trim()
  if (!ref) throw invalidReference(input, 'empty reference')
  let rest = ref
  let digest: Digest | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    const d = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!ANY_DIGEST.test(d)) throw invalidReference(ref, `invalid digest ${JSON.stringify(d)}`)
    if (!DIGEST.test(d)) throw invalidReference(ref, `unsupported digest ${JSON.stringify(d)} (only sha256 with 64 lowercase hex digits)`)
    digest = d as Digest
  }
  if (!rest) throw invalidReference(ref, 'missing repository name')
  if (HEX64.test(rest) && !digest) throw invalidReference(ref, 'cannot use a 64-character hexadecimal string as a repository name')
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const lastColon = rest.lastIndexOf(':')
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1)
    rest = rest.slice(0, lastColon)
    if (!TAG.test(tag)) throw invalidReference(ref, `invalid tag ${JSON.stringify(tag)}`)
  }
  let domain = DOCKER_HUB
  let path = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      domain = first
      path = rest.slice(slash + 1)
      checkDomain(ref, domain)
    }
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`
  if (!path) throw invalidReference(ref, 'missing repository name')
  for (const c of path.split('/')) {
    if (c !== c.toLowerCase()) throw invalidReference(ref, `repository name ${JSON.stringify(path)} must be lowercase`)
    if (!COMPONENT.test(c)) throw invalidReference(ref, `invalid repository path component ${JSON.stringify(c)}`)
  }
  if (domain.length + 1 + path.length > MAX_NAME) throw invalidReference(ref, `repository name longer than ${MAX_NAME} characters`)
  if (!tag && !digest) tag = 'latest'
  return { domain, path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) }
}

/** domain/path[:tag][@digest] — the canonical, fully-qualified form stored in image_refs. */
export function formatReference(r: Reference): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`
}

/** domain/path, the repository name. */
export const repositoryOf = (r: Reference): string => `${r.domain}/${r.path}`

/** Normalize a user string: parseReference then formatReference. */
export const normalizeReference = (input: string): string => formatReference(parseReference(input))

/** docker.io is served from registry-1.docker.io. */
export const registryHost = (domain: string): string => (domain === DOCKER_HUB ? 'registry-1.docker.io' : domain)
