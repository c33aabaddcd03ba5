import { SkiffError } from '../lib/errors.js'

export const invalidJobId = (id: string) =>
  new SkiffError('invalid_argument', 'LOG_JOB_ID_INVALID', `job id ${JSON.stringify(id)}: not usable as a log directory name`, { field: 'id' })

export const invalidSince = (input: string) =>
  new SkiffError('invalid_argument', 'INVALID_ARGUMENT', `since: expected an RFC3339 time or a duration like 5m, got ${JSON.stringify(input)}`, { field: 'since' })

export const logCorrupt = (path: string, pos: number, why: string) =>
  new SkiffError('internal', 'LOG_CORRUPT', `log ${path} at byte ${pos}: ${why}`)

export const compactFailed = (path: string, cause: unknown) =>
  new SkiffError('internal', 'LOG_COMPACT_FAILED', `log ${path}: dropping old segments failed: ${(cause as Error)?.message ?? cause}`, { cause })
