import { EventEmitter } from 'node:events'
import type { Job } from './scheduler/types.js'

/** In-process event bus: publishers and subscribers never import each other. */
export interface SkiffEvents {
  /** A job changed state (already committed to SQLite). */
  'job.state': [job: Job]
  /** A job reached a final state. */
  'job.final': [job: Job]
  /** An attempt's output begins at this log offset (published before its container starts). */
  'job.attempt': [a: { jobId: string; n: number; logOffset: number }]
  'image.pulled': [info: { ref: string; bytes: number; ms: number }]
}

export class EventBus extends EventEmitter<SkiffEvents> {
  constructor() {
    super()
    // Every waiting HTTP request and log follower subscribes: no fixed ceiling.
    this.setMaxListeners(0)
  }
}
