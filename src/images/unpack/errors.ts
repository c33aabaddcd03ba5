import { noSpace as baseNoSpace, SkiffError } from '../../lib/errors.js'

// Error factories of the unpack layer (decompression, tar extraction, snapshots).
// Messages: lowercase, no trailing period, name the thing. Codes: docs/errors/unpack.md.

export const unsafeEntry = (entry: string, why: string) =>
  new SkiffError('upstream', 'UNSAFE_TAR_ENTRY', `layer entry ${JSON.stringify(entry)}: ${why}`, { detail: { entry } })
export const invalidTar = (why: string, offset: number) =>
  new SkiffError('upstream', 'INVALID_TAR', `layer tar: ${why} (at byte ${offset})`, { detail: { offset } })
export const unsupportedEntry = (entry: string, why: string) =>
  new SkiffError('upstream', 'UNSUPPORTED_TAR_ENTRY', `layer entry ${JSON.stringify(entry)}: ${why}`, { detail: { entry } })
export const diffIdMismatch = (want: string, got: string, bytes: number) =>
  new SkiffError('upstream', 'DIFF_ID_MISMATCH', `layer ${want}: uncompressed tar hashes to ${got} after ${bytes} bytes`, { detail: { want, got, bytes } })
export const decompressedTooLarge = (limit: number) =>
  new SkiffError('upstream', 'DECOMPRESSED_TOO_LARGE', `layer: decompressed size exceeds the limit of ${limit} bytes`, { detail: { limit } })
export const decompressFailed = (what: string, why: string, cause?: unknown) =>
  new SkiffError('upstream', 'DECOMPRESS_FAILED', `${what}: ${why}`, { cause })
export const unsupportedLayerMediaType = (mediaType: string) =>
  new SkiffError('upstream', 'UNSUPPORTED_MEDIA_TYPE', `layer: unsupported media type ${JSON.stringify(mediaType)}`, { detail: { mediaType } })
export const invalidDiffId = (diffId: string) =>
  new SkiffError('invalid_argument', 'INVALID_DIFF_ID', `invalid diff id ${JSON.stringify(diffId)}: want sha256:<64 hex>`, { field: 'diffId' })
export const unpackAborted = (diffId: string, cause?: unknown) =>
  new SkiffError('unavailable', 'ABORTED', `unpack of layer ${diffId}: aborted`, { cause })
export const unpackFailed = (diffId: string, why: string, cause?: unknown) =>
  new SkiffError('internal', 'UNPACK_FAILED', `unpack of layer ${diffId}: ${why}`, { cause })
export const noSpace = (entry: string, cause?: unknown) => baseNoSpace(`unpack: layer entry ${JSON.stringify(entry)}`, cause)
