/** Concurrent callers with the same key share one in-flight promise; the key is
 *  forgotten as soon as it settles, so a later call starts fresh. */
export class SingleFlight<K, V> {
  #inflight = new Map<K, Promise<V>>()

  run(key: K, fn: () => Promise<V>): Promise<V> {
    const running = this.#inflight.get(key)
    if (running) return running
    const p = (async () => {
      try {
        return await fn()
      } finally {
        this.#inflight.delete(key)
      }
    })()
    this.#inflight.set(key, p)
    return p
  }

  get size(): number {
    return this.#inflight.size
  }
}
