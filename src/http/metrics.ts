import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Prometheus metrics. Gauges that mirror state are computed at scrape time. */
export class Metrics {
  readonly registry = new Registry()
  readonly jobDuration = new Histogram({
    name: 'skiff_job_duration_seconds',
    help: 'Wall time from start to exit of finished jobs',
    labelNames: ['state'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    registers: [this.registry],
  })
  readonly jobsFinished = new Counter({ name: 'skiff_jobs_finished_total', help: 'Jobs that reached a final state', labelNames: ['state'], registers: [this.registry] })
  readonly pulls = new Counter({ name: 'skiff_image_pulls_total', help: 'Image pulls', labelNames: ['result'], registers: [this.registry] })
  readonly bytesPulled = new Counter({ name: 'skiff_image_pull_bytes_total', help: 'Compressed bytes downloaded by pulls', registers: [this.registry] })
  readonly memoryReclaims = new Counter({ name: 'skiff_memory_reclaims_total', help: 'Times the daemon, gone quiet, gave memory back (full GC + malloc_trim)', registers: [this.registry] })
  readonly httpDuration = new Histogram({
    name: 'skiff_http_request_duration_seconds',
    help: 'API request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  })

  constructor(sources: { jobsByState: () => Record<string, number>; queueDepth: () => number; running: () => number }) {
    const reg = this.registry
    new Gauge({
      name: 'skiff_jobs',
      help: 'Jobs by state',
      labelNames: ['state'],
      registers: [reg],
      collect() {
        this.reset()
        for (const [s, n] of Object.entries(sources.jobsByState())) this.set({ state: s }, n)
      },
    })
    new Gauge({ name: 'skiff_queue_depth', help: 'Jobs waiting for admission', registers: [reg], collect() { this.set(sources.queueDepth()) } })
    new Gauge({ name: 'skiff_jobs_active', help: 'Jobs holding a slot (pulling, starting, running)', registers: [reg], collect() { this.set(sources.running()) } })
    collectDefaultMetrics({ register: reg, prefix: 'skiff_process_' })
  }
}
