import { SkiffError } from '../lib/errors.js'
import type { Digest } from './types.js'

// Factories keep messages uniform: lowercase, no trailing period, name the thing.
// Every code is listed in docs/errors/images.md.

export const invalidReference = (ref: string, why: string) =>
  new SkiffError('invalid_argument', 'INVALID_REFERENCE', `invalid reference ${JSON.stringify(ref)}: ${why}`, { field: 'image' })
export const invalidPlatform = (p: string, why: string) =>
  new SkiffError('invalid_argument', 'INVALID_PLATFORM', `invalid platform ${JSON.stringify(p)}: ${why}`, { field: 'platform' })
/** The registry says the image (or one of its blobs) does not exist: the request cannot be met (422). */
export const imageNotFound = (ref: string, detail?: string) =>
  new SkiffError('failed_precondition', 'IMAGE_NOT_FOUND', `image ${ref} not found${detail ? `: ${detail}` : ''}`)
/** No local image by that reference or id (404). */
export const noSuchImage = (ref: string) => new SkiffError('not_found', 'NO_SUCH_IMAGE', `no local image ${ref}`)
export const noMatchingPlatform = (want: string, available: string[]) =>
  new SkiffError('failed_precondition', 'NO_MATCHING_PLATFORM', `no manifest for platform ${want}; available: ${available.join(', ') || 'none'}`)
export const invalidManifest = (what: string, why: string) =>
  new SkiffError('upstream', 'INVALID_MANIFEST', `${what}: ${why}`)
export const unsupportedMediaType = (what: string, mediaType: string) =>
  new SkiffError('upstream', 'UNSUPPORTED_MEDIA_TYPE', `${what}: unsupported media type ${JSON.stringify(mediaType)}`)
export const digestMismatch = (want: Digest, got: string, bytes: number) =>
  new SkiffError('upstream', 'DIGEST_MISMATCH', `blob ${want}: computed ${got} after ${bytes} bytes`)
export const sizeMismatch = (want: Digest, expected: number, got: number) =>
  new SkiffError('upstream', 'SIZE_MISMATCH', `blob ${want}: expected ${expected} bytes, got ${got}`)
export const tooLarge = (what: string, limit: number) =>
  new SkiffError('upstream', 'BLOB_TOO_LARGE', `${what}: exceeds the limit of ${limit} bytes`)
export const tooManyLayers = (ref: string, n: number, limit: number) =>
  new SkiffError('upstream', 'TOO_MANY_LAYERS', `image ${ref}: ${n} layers exceeds the limit of ${limit}`)
export const layerCountMismatch = (ref: string, layers: number, diffIds: number) =>
  new SkiffError('upstream', 'INVALID_MANIFEST', `image ${ref}: manifest has ${layers} layers but config has ${diffIds} diff_ids`)
export const registryUnauthorized = (registry: string, why: string) =>
  new SkiffError('unauthenticated', 'REGISTRY_UNAUTHORIZED', `registry ${registry}: ${why}`)
export const registryDenied = (registry: string, why: string) =>
  new SkiffError('permission_denied', 'REGISTRY_DENIED', `registry ${registry}: ${why}`)
export const registryError = (registry: string, why: string, cause?: unknown) =>
  new SkiffError('upstream', 'REGISTRY_ERROR', `registry ${registry}: ${why}`, { cause })
export const registryUnavailable = (registry: string, why: string, cause?: unknown) =>
  new SkiffError('unavailable', 'REGISTRY_UNAVAILABLE', `registry ${registry}: ${why}`, { cause })
export const registryTimeout = (registry: string, what: string, ms: number) =>
  new SkiffError('unavailable', 'REGISTRY_TIMEOUT', `registry ${registry}: ${what} stalled for ${ms} ms`)
export const insecureRefused = (url: string) =>
  new SkiffError('failed_precondition', 'INSECURE_REGISTRY', `refusing plain http to ${url}: only loopback or registries listed in insecureRegistries may use http`)
export const redirectRefused = (url: string, why: string) =>
  new SkiffError('upstream', 'REDIRECT_REFUSED', `redirect to ${url}: ${why}`)
export const blobNotFound = (digest: Digest) =>
  new SkiffError('not_found', 'BLOB_NOT_FOUND', `blob ${digest} not found in the content store`)
export const imageInUse = (ref: string, why: string) =>
  new SkiffError('conflict', 'IMAGE_IN_USE', `image ${ref}: ${why}`)
export const invalidArchive = (why: string) =>
  new SkiffError('invalid_argument', 'INVALID_ARCHIVE', `image archive: ${why}`)
export const invalidCredentials = (file: string, why: string) =>
  new SkiffError('invalid_argument', 'INVALID_CREDENTIALS', `credentials ${file}: ${why}`)
export const aborted = (what: string) =>
  new SkiffError('unavailable', 'ABORTED', `${what}: aborted`)
export const snapshotMissing = (image: string, diffId: Digest) =>
  new SkiffError('failed_precondition', 'SNAPSHOT_MISSING', `image ${image}: layer ${diffId} is not unpacked (pull the image again)`)
