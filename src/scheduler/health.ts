import type { ImageConfig } from '../images/index.js'

type ImageHealthcheck = NonNullable<ImageConfig['Healthcheck']>

/**
 * Healthchecks, pure: the probe schedule and how results fold into a status.
 * docker's semantics (moby daemon/health.go), which Podman and Compose share:
 * - status is `starting` until the first success, then `healthy` until
 *   `retries` consecutive failures make it `unhealthy`; one success heals it;
 * - during `start_period` a failure does not count towards `retries` (the
 *   service may still be booting), but a success ends the start period early;
 * - probes run every `start_interval` during the start period, every
 *   `interval` after; a probe that outlives `timeout` is a failure;
 * - the last 5 results are kept, with a bounded output tail each.
 * The probes themselves run in the container through the runtime's exec
 * (health-monitor.ts); nothing here does I/O.
 */

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy'

export interface HealthConfig {
  /** argv run inside the container (CMD-SHELL is already ['/bin/sh', '-c', …]) */
  test: string[]
  intervalMs: number
  timeoutMs: number
  retries: number
  startPeriodMs: number
  startIntervalMs: number
}

/** docker's defaults (30 s, 30 s, 3, 0 s, 5 s). */
export const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0, startIntervalMs: 5_000 } as const

export interface ProbeResult {
  start: string // ISO time
  end: string
  exitCode: number | null
  /** stdout+stderr tail (≤ OUTPUT_TAIL bytes) */
  output: string
}

export interface HealthState {
  status: HealthStatus
  failingStreak: number
  /** a success was seen: the start period is over */
  started: boolean
  log: ProbeResult[]
}

export const OUTPUT_TAIL = 4096
const LOG_KEEP = 5

export const initialHealth = (): HealthState => ({ status: 'starting', failingStreak: 0, started: false, log: [] })

/** Fold one probe result. `sinceStartMs`: how long the attempt has been running. */
export function foldProbe(s: HealthState, r: ProbeResult, cfg: HealthConfig, sinceStartMs: number): HealthState {
  const log = [...s.log, { ...r, output: r.output.length > OUTPUT_TAIL ? r.output.slice(-OUTPUT_TAIL) : r.output }].slice(-LOG_KEEP)
  if (r.exitCode === 0) return { status: 'healthy', failingStreak: 0, started: true, log }
  const inStartPeriod = !s.started && sinceStartMs < cfg.startPeriodMs
  if (inStartPeriod) return { ...s, log }
  const failingStreak = s.failingStreak + 1
  return { status: failingStreak >= cfg.retries ? 'unhealthy' : s.status, failingStreak, started: s.started, log }
}

/** How long until the next probe, measured from the end of the last one. */
export function nextProbeDelay(s: HealthState, cfg: HealthConfig, sinceStartMs: number): number {
  const inStartPeriod = !s.started && sinceStartMs < cfg.startPeriodMs
  return inStartPeriod ? Math.min(cfg.startIntervalMs, cfg.intervalMs) : cfg.intervalMs
}

/** docker's image config Healthcheck (durations in nanoseconds) → HealthConfig;
 *  undefined for none or ["NONE"]. Zero durations mean "inherit the default". */
export function fromImageHealthcheck(h: ImageHealthcheck | undefined): HealthConfig | undefined {
  if (!h?.Test?.length) return undefined
  const test = probeArgv(h.Test)
  if (!test) return undefined
  const ms = (ns: number | undefined, dflt: number) => (ns && ns > 0 ? Math.round(ns / 1e6) : dflt)
  return {
    test,
    intervalMs: ms(h.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: ms(h.Timeout, HEALTH_DEFAULTS.timeoutMs),
    retries: h.Retries && h.Retries > 0 ? h.Retries : HEALTH_DEFAULTS.retries,
    startPeriodMs: ms(h.StartPeriod, HEALTH_DEFAULTS.startPeriodMs),
    startIntervalMs: ms(h.StartInterval, HEALTH_DEFAULTS.startIntervalMs),
  }
}

/** docker's Test forms: ["CMD", argv…], ["CMD-SHELL", "cmd"], ["NONE"]; a bare
 *  argv (no keyword) as run. undefined = disabled. */
export function probeArgv(test: readonly string[]): string[] | undefined {
  const [kind, ...rest] = test
  if (kind === 'NONE') return undefined
  if (kind === 'CMD') return rest.length ? rest : undefined
  if (kind === 'CMD-SHELL') return rest.length ? ['/bin/sh', '-c', rest.join(' ')] : undefined
  return [...test]
}
