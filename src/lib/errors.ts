/** The closed set of error kinds. Layers throw SkiffError with one of these;
 *  only src/http/errors.ts maps a kind to an HTTP status. */
export type ErrorKind =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'conflict'
  | 'failed_precondition'
  | 'payload_too_large'
  | 'resource_exhausted'
  /** the data dir's filesystem is full (ENOSPC, EDQUOT, SQLITE_FULL) */
  | 'insufficient_storage'
  | 'unavailable'
  | 'upstream'
  | 'internal'

export interface ErrorExtra {
  field?: string
  cause?: unknown
  detail?: Record<string, unknown>
}

export class SkiffError extends Error {
  override name = 'SkiffError'
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly extra: ErrorExtra = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
  }
}

const NO_SPACE_CODES: Record<string, string> = { ENOSPC: 'ENOSPC', EDQUOT: 'EDQUOT', SQLITE_FULL: 'SQLITE_FULL' }

/** The errno-like code when `e` (or an error it wraps) is the filesystem being full. */
export function noSpaceCode(e: unknown): string | undefined {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 8; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { code?: unknown }).code
    if (typeof code === 'string' && NO_SPACE_CODES[code]) return code
  }
  return undefined
}

/** Out of space while doing `what`: 507, the message names the errno (ENOSPC / EDQUOT / SQLITE_FULL). */
export const noSpace = (what: string, cause?: unknown) => {
  const code = noSpaceCode(cause) ?? 'ENOSPC'
  const why = code === 'EDQUOT' ? 'disk quota exceeded' : code === 'SQLITE_FULL' ? 'the database is full' : 'no space left on device'
  return new SkiffError('insufficient_storage', 'NO_SPACE', `${what}: ${why} (${code}) on the data dir's filesystem; free space there and retry`, { cause })
}

/** Also true for a SkiffError of another copy of this module (the CLI's bundle loads
 *  the daemon's code as a bundle of its own, with its own class). */
export function isSkiffError(e: unknown, code?: string): e is SkiffError {
  const like = e instanceof SkiffError || (e instanceof Error && e.name === 'SkiffError' && typeof (e as SkiffError).kind === 'string' && typeof (e as SkiffError).code === 'string')
  return like && (code === undefined || (e as SkiffError).code === code)
}

export const invalidArgument = (field: string, message: string) =>
  new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `${field}: ${message}`, { field })

export const internal = (message: string, cause?: unknown) =>
  new SkiffError('internal', 'INTERNAL', message, { cause })
