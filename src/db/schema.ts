import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

// ---- images ----------------------------------------------------------------
/** One row per image, keyed by its config digest (docker's "image ID"). */
export const images = sqliteTable('images', {
  id: text('id').primaryKey(), // sha256:… of the config blob
  manifestDigest: text('manifest_digest').notNull(),
  manifestMediaType: text('manifest_media_type').notNull(),
  configJson: text('config_json').notNull(), // the image config blob, as fetched
  platform: text('platform').notNull(), // os/arch[/variant]
  size: integer('size').notNull(), // compressed bytes of all layers
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
})

/** Normalized references (docker.io/library/busybox:latest, …@sha256:…) → image. */
export const imageRefs = sqliteTable('image_refs', {
  ref: text('ref').primaryKey(),
  imageId: text('image_id').notNull().references(() => images.id, { onDelete: 'cascade' }),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
}, (t) => [index('image_refs_image').on(t.imageId)])

/** Unpacked layers (snapshots), keyed by diff-id; shared between images. */
export const layers = sqliteTable('layers', {
  diffId: text('diff_id').primaryKey(),
  digest: text('digest').notNull(), // compressed blob digest it was unpacked from
  mediaType: text('media_type').notNull(),
  size: integer('size').notNull(), // compressed size
  unpackedSize: integer('unpacked_size').notNull(),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
})

export const imageLayers = sqliteTable('image_layers', {
  imageId: text('image_id').notNull().references(() => images.id, { onDelete: 'cascade' }),
  position: integer('position').notNull(), // 0 = base
  diffId: text('diff_id').notNull().references(() => layers.diffId),
}, (t) => [primaryKey({ columns: [t.imageId, t.position] }), index('image_layers_diff').on(t.diffId)])

// ---- jobs ------------------------------------------------------------------
export const jobs = sqliteTable('jobs', {
  id: text('id').primaryKey(), // ULID
  name: text('name'),
  state: text('state').notNull(),
  image: text('image').notNull(), // as requested
  imageId: text('image_id'), // resolved config digest
  request: text('request').notNull(), // the validated RunRequest, JSON
  labels: text('labels').notNull().default('{}'),
  reason: text('reason'), // why it ended (error code, 'daemon-restart', …)
  message: text('message'),
  exitCode: integer('exit_code'),
  signal: text('signal'),
  oomKilled: integer('oom_killed', { mode: 'boolean' }).notNull().default(false),
  timedOut: integer('timed_out', { mode: 'boolean' }).notNull().default(false),
  usage: text('usage'), // JSON ExitStatus.usage
  restarts: integer('restarts').notNull().default(0), // attempts started after the first
  scheduleId: text('schedule_id'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  startedAt: integer('started_at', { mode: 'timestamp_ms' }),
  finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
  // ---- attempts and restarts
  attempt: integer('attempt').notNull().default(0), // number of the current/last attempt (0: none yet)
  failures: integer('failures').notNull().default(0), // restarts the workload's exits caused (on-failure's budget)
  backoffStep: integer('backoff_step').notNull().default(0),
  queuedAt: integer('queued_at', { mode: 'timestamp_ms' }), // queue order (FIFO by entry, restarts at the back)
  nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }), // while in backoff
  stoppedByUser: integer('stopped_by_user', { mode: 'boolean' }).notNull().default(false),
  stopDeadline: integer('stop_deadline', { mode: 'timestamp_ms' }), // a stop in progress: SIGKILL at this time
  health: text('health'), // JSON HealthState of the current attempt
  // ---- per-connection services (RunSpec.listen)
  parentId: text('parent_id'), // a connection's job: the listener job it belongs to
  connTotal: integer('conn_total').notNull().default(0), // a listener's accepted connections
  connRefused: integer('conn_refused').notNull().default(0), // a listener's refused connections
}, (t) => [
  index('jobs_parent').on(t.parentId).where(sql`parent_id IS NOT NULL`),
  index('jobs_state').on(t.state),
  index('jobs_queue').on(t.state, t.queuedAt),
  uniqueIndex('jobs_name').on(t.name).where(sql`name IS NOT NULL`),
  index('jobs_schedule').on(t.scheduleId).where(sql`schedule_id IS NOT NULL`),
])

/** One attempt of a job: its own container (`<job>.<n>`), exit and usage; its
 *  output is the job's log from `logOffset` to the next attempt's. */
export const attempts = sqliteTable('attempts', {
  jobId: text('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
  n: integer('n').notNull(), // 1, 2, …
  containerId: text('container_id').notNull(),
  state: text('state').notNull(),
  reason: text('reason'),
  message: text('message'),
  exitCode: integer('exit_code'),
  signal: text('signal'),
  oomKilled: integer('oom_killed', { mode: 'boolean' }).notNull().default(false),
  timedOut: integer('timed_out', { mode: 'boolean' }).notNull().default(false),
  usage: text('usage'),
  logOffset: integer('log_offset'), // decoded log offset where this attempt's output starts
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  startedAt: integer('started_at', { mode: 'timestamp_ms' }),
  finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
}, (t) => [primaryKey({ columns: [t.jobId, t.n] })])

export const jobEvents = sqliteTable('job_events', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  jobId: text('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
  state: text('state').notNull(),
  time: integer('time', { mode: 'timestamp_ms' }).notNull(),
  detail: text('detail'),
}, (t) => [index('job_events_job').on(t.jobId)])

// ---- schedules ---------------------------------------------------------------
/** A cron trigger. `cursor` is the newest tick already handled (run, missed or
 *  skipped): ticks at or before it never fire again, whatever the clock says. */
export const schedules = sqliteTable('schedules', {
  id: text('id').primaryKey(), // ULID; a schedule re-created under the same name is a new one
  name: text('name').notNull(),
  spec: text('spec').notNull(), // JSON: cron, timezone, concurrency, deadlines, catch-up, history, jitter
  job: text('job').notNull(), // JSON RunSpec every run starts from
  jobRequest: text('job_request').notNull(), // the job as the user sent it (shown back by GET)
  suspended: integer('suspended', { mode: 'boolean' }).notNull().default(false),
  cursor: integer('cursor', { mode: 'timestamp_ms' }).notNull(),
  missedTotal: integer('missed_total').notNull().default(0),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
}, (t) => [uniqueIndex('schedules_name').on(t.name)])

/** One row per handled tick. The unique key is the exactly-once guarantee: the
 *  row of a run is inserted in the transaction that inserts its job (whose id is
 *  derived from the same pair), so a tick has one run or none, never two. Manual
 *  triggers are outside the key: they are not ticks of the spec. */
export const scheduleTicks = sqliteTable('schedule_ticks', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  scheduleId: text('schedule_id').notNull().references(() => schedules.id, { onDelete: 'cascade' }),
  scheduledTime: integer('scheduled_time', { mode: 'timestamp_ms' }).notNull(),
  trigger: text('trigger').notNull(), // schedule | catch-up | manual
  outcome: text('outcome').notNull(), // run | missed | skipped
  reason: text('reason'), // missed: deadline | catch-up | max-catch-up | queue-full; skipped: forbidden
  jobId: text('job_id'),
  recordedAt: integer('recorded_at', { mode: 'timestamp_ms' }).notNull(),
}, (t) => [
  uniqueIndex('schedule_ticks_tick').on(t.scheduleId, t.scheduledTime).where(sql`"trigger" <> 'manual'`),
  index('schedule_ticks_schedule').on(t.scheduleId, t.id),
])

// ---- daemon settings (token hash etc.) --------------------------------------
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

// ---- networks --------------------------------------------------------------
/** Bridge networks: `default` (from the daemon's config) and user networks. */
export const networks = sqliteTable('networks', {
  name: text('name').primaryKey(),
  id: text('id').notNull(), // ULID
  bridge: text('bridge').notNull(), // host interface, ≤ 15 chars
  subnet: text('subnet').notNull(), // IPv4 CIDR
  gateway: text('gateway').notNull(),
  labels: text('labels').notNull().default('{}'),
  createdAt: integer('created_at', { mode: 'timestamp_ms' }).notNull(),
}, (t) => [uniqueIndex('networks_bridge').on(t.bridge)])

/** A job's place on a network, from its first attempt until it ends: its address
 *  (chosen by skiff, recorded by CNI host-local), the names peers resolve it by,
 *  and the container of its current attempt (whose /etc/hosts skiff keeps current). */
export const networkEndpoints = sqliteTable('network_endpoints', {
  jobId: text('job_id').primaryKey().references(() => jobs.id, { onDelete: 'cascade' }),
  network: text('network').notNull().references(() => networks.name),
  ip: text('ip').notNull(),
  names: text('names').notNull().default('[]'), // JSON string[]
  containerId: text('container_id'),
}, (t) => [uniqueIndex('network_endpoints_ip').on(t.network, t.ip)])

/** Published ports of live jobs: a host port (per protocol and host address) has one
 *  holder. Kept across a daemon kill -9; released when the job ends. */
export const portAllocations = sqliteTable('port_allocations', {
  jobId: text('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
  hostIp: text('host_ip').notNull(),
  hostPort: integer('host_port').notNull(),
  protocol: text('protocol').notNull(), // tcp | udp
  containerPort: integer('container_port').notNull(),
}, (t) => [primaryKey({ columns: [t.hostIp, t.hostPort, t.protocol] }), index('port_allocations_job').on(t.jobId)])
