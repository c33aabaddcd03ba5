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
