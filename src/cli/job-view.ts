/** The job as GET /jobs/:id shows it (the fields the CLI reads). */
export interface JobView {
  id: string
  name: string | null
  state: string
  image: string
  cmd: string[] | null
  exitCode: number | null
  signal: string | null
  reason: string | null
  message: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  usage: unknown
  interactive?: boolean
  stdout?: string
  stderr?: string
}

export interface ImageView {
  id: string
  refs: string[]
  size: number
  createdAt: string
  platform: string
}

/** A job id or name as a URL path segment. */
export const jobPath = (ref: string, rest = '') => `/jobs/${encodeURIComponent(ref)}${rest}`
