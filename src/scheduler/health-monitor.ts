import type { Clock } from '../lib/clock.js'
import type { Logger } from '../lib/log.js'
import { foldProbe, initialHealth, nextProbeDelay, type HealthConfig, type HealthState } from './health.js'
import type { ContainerLike } from './ports.js'

export interface HealthMonitorDeps {
  clock: Clock
  log: Logger
  /** persist (and publish) the new health state */
  record(state: HealthState): void
  /** the status just became unhealthy */
  onUnhealthy(): void
}

/** Runs one attempt's healthcheck: probes through the container's exec, one at
 *  a time, on the schedule health.ts decides, every timer from the Clock. The
 *  decisions are in health.ts; this is only the loop. */
export class HealthMonitor {
  #timer: { cancel(): void } | undefined
  #stopped = false
  #state: HealthState
  readonly #resumed: boolean

  constructor(
    private readonly cfg: HealthConfig,
    private readonly container: ContainerLike,
    private readonly startedAtMs: number,
    private readonly d: HealthMonitorDeps,
    /** resumed after a daemon restart: the state the job had */
    resume?: HealthState | null,
  ) {
    this.#state = resume ?? initialHealth()
    this.#resumed = !!resume
  }

  get state(): HealthState {
    return this.#state
  }

  start(): void {
    if (!this.#resumed) this.d.record(this.#state)
    this.#schedule()
  }

  stop(): void {
    this.#stopped = true
    this.#timer?.cancel()
  }

  #since(): number {
    return this.d.clock.now().getTime() - this.startedAtMs
  }

  #schedule(): void {
    if (this.#stopped) return
    this.#timer = this.d.clock.setTimeout(() => void this.#probe(), nextProbeDelay(this.#state, this.cfg, this.#since()))
  }

  async #probe(): Promise<void> {
    if (this.#stopped) return
    const start = this.d.clock.now()
    let exitCode: number | null
    let output: string
    try {
      const r = await this.container.exec(this.cfg.test, { timeoutMs: this.cfg.timeoutMs })
      exitCode = r.exitCode
      output = r.stdout + r.stderr
      if (exitCode === null) output += `\nhealthcheck exceeded its timeout of ${this.cfg.timeoutMs} ms`
    } catch (e) {
      exitCode = null
      output = e instanceof Error ? e.message : String(e)
    }
    if (this.#stopped) return
    const before = this.#state.status
    this.#state = foldProbe(this.#state, { start: start.toISOString(), end: this.d.clock.now().toISOString(), exitCode, output }, this.cfg, this.#since())
    try {
      this.d.record(this.#state)
    } catch (err) {
      this.d.log.warn({ err }, 'recording health failed')
    }
    if (before !== 'unhealthy' && this.#state.status === 'unhealthy') this.d.onUnhealthy()
    this.#schedule()
  }
}
