import type { Context } from 'hono'
import type { ZodError } from 'zod'
import { type ErrorKind, noSpace, noSpaceCode, SkiffError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'

/** The one mapping from error kind to HTTP status. */
export const STATUS = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  failed_precondition: 422,
  resource_exhausted: 503,
  insufficient_storage: 507,
  unavailable: 503,
  upstream: 502,
  internal: 500,
} as const satisfies Record<ErrorKind, number>

/** A zod failure becomes INVALID_ARGUMENT naming the first offending field. */
export function fromZod(err: ZodError, prefix = ''): SkiffError {
  const issue = err.issues[0]!
  let path = issue.path.map(String)
  let message = issue.message
  if (issue.code === 'unrecognized_keys') {
    path = [...path, issue.keys[0]!]
    message = 'unknown field'
  }
  const field = [prefix, ...path].filter(Boolean).join('.') || 'body'
  return new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `${field}: ${message}`, { field })
}

export function toSkiffError(err: unknown): SkiffError {
  if (err instanceof SkiffError) return err
  if (err && typeof err === 'object' && 'name' in err && (err as Error).name === 'ZodError') return fromZod(err as ZodError)
  // a write anywhere on the data dir (a blob, the database, a log's metadata) that found the disk full
  if (noSpaceCode(err)) return noSpace('request', err)
  return new SkiffError('internal', 'INTERNAL', 'internal error', { cause: err })
}

export function errorBody(e: SkiffError) {
  return { error: { code: e.code, message: e.message, ...(e.extra.field ? { field: e.extra.field } : {}) } }
}

export function onError(log: Logger) {
  return (err: unknown, c: Context) => {
    const e = toSkiffError(err)
    if (e.kind === 'internal') log.error({ err, cause: e.extra.cause }, 'unhandled error')
    return c.json(errorBody(e), STATUS[e.kind])
  }
}
