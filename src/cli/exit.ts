import { constants } from 'node:os'
import { isSkiffError } from '../lib/errors.js'

/** Exit codes, as docker's CLI chooses them (docs.docker.com "docker run" exit status):
 *  125 — skiff itself failed: bad usage, daemon unreachable, request refused;
 *  126 — the job's command cannot be invoked (not executable);
 *  127 — the job's command was not found in the image;
 *  otherwise the job's own code, 128+N when signal N ended it (a shell's habit). */
export const EXIT = { skiff: 125, notRunnable: 126, notFound: 127, sigpipe: 141 } as const

export interface JobEnd {
  state?: string
  exitCode: number | null
  signal: string | null
  reason?: string | null
}

const BY_REASON: Record<string, number> = { EXECUTABLE_NOT_FOUND: EXIT.notFound, EXECUTABLE_NOT_RUNNABLE: EXIT.notRunnable }

export function exitCodeOf(j: JobEnd): number {
  if (j.exitCode !== null) return j.exitCode
  if (j.signal) return 128 + ((constants.signals as Record<string, number>)[j.signal] ?? 0)
  if (j.state === 'failed') return BY_REASON[j.reason ?? ''] ?? EXIT.skiff
  return EXIT.skiff
}

/** The code for an error skiff itself raised (not a job's exit). */
export function exitCodeOfError(e: unknown): number {
  if (isSkiffError(e)) return BY_REASON[e.code] ?? EXIT.skiff
  return EXIT.skiff
}
