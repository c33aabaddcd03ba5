import { EventEmitter } from 'node:events'
import type { Job } from './scheduler/types.js'

/** In-process event bus: publishers and subscribers never import each other. */
export interface SkiffEvents {
  /** A job changed state (already committed to SQLite). */
  'job.state': [job: Job]
  /** A job reached a final state. */
  'job.final': [job: Job]
  'image.pulled': [info: { ref: string; bytes: number; ms: number }]
}

export class EventBus extends EventEmitter<SkiffEvents> {
  constructor() {
    super()
    // Every waiting HTTP request and log follower subscribes: no fixed ceiling.
    this.setMaxListeners(0)
  }
}
