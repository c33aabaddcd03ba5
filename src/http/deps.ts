import type { EventBus } from '../events.js'
import type { Logger } from '../lib/log.js'
import type { NetworkService, RunSpec, Scheduler, ScheduleService } from '../scheduler/index.js'
import type { ImagesApi } from './ports.js'
import type { Metrics } from './metrics.js'
import type { LogsApi } from './ports.js'
import type { HostFacts } from '../runtime/index.js'
import type { LogsRouteDeps } from './routes/logs.js'
import type { TicketStore } from './tickets.js'

export interface ApiDeps {
  /** the scheduler's façade, through its interface (a fake or another store's implements it) */
  jobs: Scheduler
  images: ImagesApi
  logs: LogsApi
  events: EventBus
  metrics: Metrics
  log: Logger
  /** Bearer token required on TCP (the unix socket is trusted by file mode). */
  token: () => string
  bodyLimit: number
  /** WebSocket tickets minted by POST /auth/tickets (absent: the route answers 404) */
  tickets?: TicketStore
  /** CPUs, memory, stack limit: what the host can honour (probed once when absent) */
  host?: HostFacts
  /** /networks, and jobs' addresses and ports in their views (absent: none/host networking only) */
  networks?: NetworkService
  /** per-connection listeners: a run with `listen` checks its port here first (absent: `listen` is 503) */
  listeners?: { check(spec: RunSpec): void; holderOf(hostIp: string, port: number): string | undefined }
  /** GET /jobs/:id/logs (mounted when given; the WebSocket routes share these deps). */
  logRoutes?: LogsRouteDeps
  /** /schedules (mounted when given). */
  schedules?: ScheduleService
}
