/** Pure admission: which queued jobs may start now, in FIFO order. A job that
 *  does not fit blocks the ones behind it (strict FIFO: no starvation of big jobs). */
export interface AdmissionLimits {
  maxConcurrent: number
  /** Sum of memory limits of active jobs; 0 = unlimited. */
  maxMemory: number
}

export interface QueuedJob {
  id: string
  memoryBytes: number
}

export function admit(queue: readonly QueuedJob[], active: { count: number; memoryBytes: number }, limits: AdmissionLimits): string[] {
  const out: string[] = []
  let count = active.count
  let mem = active.memoryBytes
  for (const j of queue) {
    if (count >= limits.maxConcurrent) break
    // A job bigger than the whole budget could never start: let it run alone rather than block forever.
    const fits = limits.maxMemory === 0 || mem + j.memoryBytes <= limits.maxMemory || (count === 0 && j.memoryBytes > limits.maxMemory)
    if (!fits) break
    out.push(j.id)
    count++
    mem += j.memoryBytes
  }
  return out
}
