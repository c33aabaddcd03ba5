import type { EventBus } from '../events.js'
import type { Logger } from '../lib/log.js'
import type { JobService } from '../scheduler/index.js'
import type { ImagesApi } from './ports.js'
import type { Metrics } from './metrics.js'
import type { LogsApi } from './ports.js'

export interface ApiDeps {
  jobs: JobService
  images: ImagesApi
  logs: LogsApi
  events: EventBus
  metrics: Metrics
  log: Logger
  /** Bearer token required on TCP (the unix socket is trusted by file mode). */
  token: () => string
  bodyLimit: number
}
