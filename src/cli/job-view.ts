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
  tty?: boolean
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

/** What `skiff ps` needs beyond the basics (services). */
export interface ServiceView {
  restartCount?: number
  nextAttemptAt?: string | null
  health?: { status: 'starting' | 'healthy' | 'unhealthy' } | null
}

/** docker's units.HumanDuration: "Less than a second", "About a minute", "3 hours". */
export function humanDuration(ms: number): string {
  const s = ms / 1000
  if (s < 1) return 'Less than a second'
  if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? '' : 's'}`
  const m = s / 60
  if (m < 2) return 'About a minute'
  if (m < 60) return `${Math.floor(m)} minutes`
  const h = m / 60
  if (h < 2) return 'About an hour'
  if (h < 48) return `${Math.floor(h)} hours`
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`
  return `${Math.floor(h / 24 / 365)} years`
}

/** The STATUS column as docker writes it: "Up 3 minutes (healthy)",
 *  "Restarting (1) 2 seconds ago", "Exited (0) 5 minutes ago". */
export function statusText(j: JobView & ServiceView, now = Date.now()): string {
  const since = (iso: string | null | undefined) => (iso ? `${humanDuration(Math.max(0, now - Date.parse(iso)))} ago` : '')
  const how = j.exitCode !== null ? `(${j.exitCode})` : j.signal ? `(${j.signal})` : ''
  const join = (...parts: string[]) => parts.filter(Boolean).join(' ')
  switch (j.state) {
    case 'running': {
      const h = j.health ? ` (${j.health.status === 'starting' ? 'health: starting' : j.health.status})` : ''
      return `Up ${humanDuration(Math.max(0, now - Date.parse(j.startedAt ?? j.createdAt)))}${h}`
    }
    case 'backoff':
      return join('Restarting', how, j.nextAttemptAt && Date.parse(j.nextAttemptAt) > now ? `(next in ${humanDuration(Date.parse(j.nextAttemptAt) - now).toLowerCase()})` : '')
    case 'queued':
      return (j.restartCount ?? 0) > 0 ? 'Restarting' : 'Created'
    case 'pulling':
      return 'Pulling'
    case 'starting':
      return 'Starting'
    case 'exited':
      return join('Exited', how, since(j.finishedAt))
    case 'stopped':
      return join('Stopped', how, since(j.finishedAt))
    case 'killed':
      return join('Killed', how, since(j.finishedAt))
    case 'oom':
      return join('OOM-killed', since(j.finishedAt))
    case 'timed_out':
      return join('Timed out', since(j.finishedAt))
    case 'failed':
      return join('Failed', j.reason ? `(${j.reason})` : '', since(j.finishedAt))
    default:
      return j.state
  }
}
