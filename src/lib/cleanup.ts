/** Undo stack: register the undo of each acquisition as you make it; commit()
 *  on success keeps everything, otherwise disposal unwinds in reverse order.
 *  (DisposableStack does not exist at runtime on Node 20, hence this.) */
export class Cleanup implements AsyncDisposable {
  #undo: (() => unknown)[] = []
  #committed = false

  defer(fn: () => unknown): void {
    this.#undo.push(fn)
  }

  commit(): void {
    this.#committed = true
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#committed) return
    const errors: unknown[] = []
    for (const fn of this.#undo.reverse()) {
      try {
        await fn()
      } catch (e) {
        errors.push(e)
      }
    }
    this.#undo = []
    // An undo failure must not mask the error that caused the unwind.
    if (errors.length) process.emitWarning(`cleanup: ${errors.length} undo step(s) failed: ${String(errors[0])}`)
  }
}

