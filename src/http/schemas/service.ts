import { z } from 'zod'
import { invalidArgument } from '../../lib/errors.js'
import { parseDuration } from '../../lib/units.js'
import { DEFAULT_BACKOFF, HEALTH_DEFAULTS, normalizeSignal, parseRestartPolicy, probeArgv, type Backoff, type RunSpec } from '../../scheduler/index.js'

// The fields of a run request that keep a service up: restart policy, backoff,
// healthcheck, stop signal and grace time. Names follow the Compose spec
// (restart, healthcheck.start_period, stop_signal, stop_grace_period → stop_timeout
// as docker's --stop-timeout) rather than the camelCase of older fields.

const duration = z.union([z.string().min(1), z.number().nonnegative()])
/** Timers cannot hold more than 2^31-1 ms (≈ 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1

export const BackoffSchema = z
  .object({
    initial: duration.optional().describe(`first delay (default ${DEFAULT_BACKOFF.initialMs} ms; 0 restarts at once)`),
    max: duration.optional().describe(`cap (default ${DEFAULT_BACKOFF.maxMs / 1000} s)`),
    factor: z.number().min(1).max(100).optional().describe(`growth per restart (default ${DEFAULT_BACKOFF.factor})`),
    jitter: z.number().min(0).max(1).optional().describe('± this fraction of each delay, at random (default 0)'),
    reset_after: duration.optional().describe(`an attempt that ran this long resets the delay (default ${DEFAULT_BACKOFF.resetAfterMs / 1000} s)`),
  })
  .strict()

export const HealthcheckSchema = z.union([
  z.literal('none').describe('disable the image\'s HEALTHCHECK'),
  z
    .object({
      cmd: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional()
        .describe('a string runs under /bin/sh -c; an array runs as is (docker\'s ["CMD", …], ["CMD-SHELL", "…"] and ["NONE"] forms are understood); absent: the image\'s HEALTHCHECK, with the fields given here on top'),
      interval: duration.optional().describe(`between probes (default ${HEALTH_DEFAULTS.intervalMs / 1000} s)`),
      timeout: duration.optional().describe(`a probe running longer fails (default ${HEALTH_DEFAULTS.timeoutMs / 1000} s)`),
      retries: z.number().int().min(1).max(1000).optional().describe(`consecutive failures that make it unhealthy (default ${HEALTH_DEFAULTS.retries})`),
      start_period: duration.optional().describe('failures in this time after the start do not count (default 0)'),
      start_interval: duration.optional().describe(`between probes during start_period (default ${HEALTH_DEFAULTS.startIntervalMs / 1000} s)`),
      disable: z.boolean().optional(),
    })
    .strict(),
])

export const serviceFields = {
  restart: z.string().optional().describe('no | on-failure[:max-retries] | always | unless-stopped (docker\'s)'),
  backoff: BackoffSchema.optional().describe('delay between restarts; docker\'s numbers by default'),
  healthcheck: HealthcheckSchema.optional(),
  on_unhealthy: z.enum(['none', 'restart', 'stop', 'kill']).optional().describe('what an unhealthy job gets (default none)'),
  stop_signal: z.string().regex(/^(SIG)?[A-Z0-9]+$/, 'must be a signal name like SIGTERM').optional().describe('first signal of a stop (default: the image\'s StopSignal, else SIGTERM)'),
  stop_timeout: duration.optional().describe('grace time between the stop signal and SIGKILL (default 10 s)'),
  auto_remove: z.boolean().optional().describe('docker run --rm: remove the writable layer when the job ends (record and logs stay until `DELETE /jobs/{id}`); without it the layer is kept across restarts until the job is removed'),
}

type ServiceInput = { [K in keyof typeof serviceFields]?: z.output<(typeof serviceFields)[K]> }

const ms = (v: string | number, field: string, o: { min?: number } = {}) => {
  const n = parseDuration(v, field)
  if (n > MAX_TIMER_MS) throw invalidArgument(field, `must be at most ${Math.floor(MAX_TIMER_MS / 86_400_000)} days`)
  if (o.min !== undefined && n < o.min) throw invalidArgument(field, `must be at least ${o.min} ms`)
  return n
}

export function toBackoff(b: z.output<typeof BackoffSchema>, field = 'backoff'): Backoff {
  const out: Backoff = {
    initialMs: b.initial === undefined ? DEFAULT_BACKOFF.initialMs : ms(b.initial, `${field}.initial`),
    maxMs: b.max === undefined ? DEFAULT_BACKOFF.maxMs : ms(b.max, `${field}.max`),
    factor: b.factor ?? DEFAULT_BACKOFF.factor,
    jitter: b.jitter ?? DEFAULT_BACKOFF.jitter,
    resetAfterMs: b.reset_after === undefined ? DEFAULT_BACKOFF.resetAfterMs : ms(b.reset_after, `${field}.reset_after`),
  }
  if (out.maxMs < out.initialMs) throw invalidArgument(`${field}.max`, 'must not be less than backoff.initial')
  return out
}

/** The service fields of a request → RunSpec's, in skiff units. Throws INVALID_ARGUMENT naming the field. */
export function toServiceSpec(r: ServiceInput): Partial<RunSpec> {
  const out: Partial<RunSpec> = {}
  if (r.restart !== undefined) out.restart = parseRestartPolicy(r.restart, 'restart')
  if (r.backoff) out.backoff = toBackoff(r.backoff)
  if (r.healthcheck !== undefined) {
    const h = r.healthcheck
    if (h === 'none' || h.disable) out.healthcheck = 'none'
    else {
      const test = h.cmd === undefined ? undefined : typeof h.cmd === 'string' ? ['/bin/sh', '-c', h.cmd] : probeArgv(h.cmd)
      if (h.cmd !== undefined && !test) out.healthcheck = 'none' // ["NONE"]
      else {
        const hc: NonNullable<Exclude<RunSpec['healthcheck'], 'none'>> = {}
        if (test) hc.test = test
        if (h.interval !== undefined) hc.intervalMs = ms(h.interval, 'healthcheck.interval', { min: 1 })
        if (h.timeout !== undefined) hc.timeoutMs = ms(h.timeout, 'healthcheck.timeout', { min: 1 })
        if (h.retries !== undefined) hc.retries = h.retries
        if (h.start_period !== undefined) hc.startPeriodMs = ms(h.start_period, 'healthcheck.start_period')
        if (h.start_interval !== undefined) hc.startIntervalMs = ms(h.start_interval, 'healthcheck.start_interval', { min: 1 })
        out.healthcheck = hc
      }
    }
  }
  if (r.on_unhealthy !== undefined) {
    if (r.on_unhealthy !== 'none' && out.healthcheck === 'none') throw invalidArgument('on_unhealthy', 'needs a healthcheck')
    out.onUnhealthy = r.on_unhealthy
  }
  if (r.stop_signal !== undefined) {
    const sig = normalizeSignal(r.stop_signal)
    if (!sig) throw invalidArgument('stop_signal', `unknown signal ${JSON.stringify(r.stop_signal)}`)
    out.stopSignal = sig
  }
  if (r.stop_timeout !== undefined) out.stopTimeoutMs = ms(r.stop_timeout, 'stop_timeout')
  if (r.auto_remove) {
    // docker: "Conflicting options: --restart and --rm"
    if (out.restart && out.restart.mode !== 'no') throw invalidArgument('auto_remove', `cannot be combined with restart ${JSON.stringify(r.restart)}`)
    out.autoRemove = true
  }
  return out
}

/** PATCH /jobs/:id: what `docker update` changes on a live job. */
export const UpdateJobSchema = z.object({ restart: serviceFields.restart, backoff: serviceFields.backoff }).strict()

export const StopSchema = z.object({ timeout: duration.optional().describe('grace time before SIGKILL (default: the job\'s stop_timeout, else 10 s)') }).strict()

export const stopTimeout = (b: z.output<typeof StopSchema>) => (b.timeout === undefined ? undefined : ms(b.timeout, 'timeout'))
