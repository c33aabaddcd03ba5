// What an exec does with the command's output: kept up to a cap (a buffered exec) or
// relayed to the caller as it comes with backpressure (a streamed one). Shared by the
// pipe and the tty paths in exec.ts.
import type { ExecOptions } from './types.js'
import { looksLikeStartFailure } from './errors.js'

/** What a buffered exec keeps of each stream. */
export const EXEC_BUFFER_CAP = 16 * 1024 * 1024

/** Streamed output, except that a first chunk in the runtime's words for a command it
 *  could not start ("executable file `x` not found…") is held until the exit: then
 *  it is dropped if that is what happened (the caller gets EXECUTABLE_NOT_FOUND, not
 *  the runtime's line too), else passed on. */
export class Relay {
  #held: { stream: 'stdout' | 'stderr'; b: Buffer }[] | undefined
  #any = false
  constructor(private readonly out: NonNullable<ExecOptions['onOutput']>) {}
  push(stream: 'stdout' | 'stderr', b: Buffer): void | Promise<void> {
    if (!this.#any && !this.#held && looksLikeStartFailure(b.toString('latin1'))) {
      this.#held = [{ stream, b }]
      return
    }
    if (this.#held) {
      this.#held.push({ stream, b })
      if (this.#held.length < 4) return
      return this.flush()
    }
    this.#any = true
    return this.out(stream, b)
  }
  flush(): void | Promise<void> {
    const h = this.#held ?? []
    this.#held = undefined
    this.#any = true
    let last: void | Promise<void> = undefined
    for (const x of h) last = this.out(x.stream, x.b)
    return last
  }
  drop(): void {
    this.#held = undefined
  }
}

/** One stream of a buffered exec: the first EXEC_BUFFER_CAP bytes, the rest dropped. */
export class CappedOutput {
  readonly #kept: Buffer[] = []
  #size = 0
  truncated = false
  push(b: Buffer): void {
    if (this.#size + b.length > EXEC_BUFFER_CAP) {
      this.truncated = true
      b = b.subarray(0, Math.max(0, EXEC_BUFFER_CAP - this.#size))
    }
    this.#size += b.length
    if (b.length) this.#kept.push(b)
  }
  text(): string {
    return Buffer.concat(this.#kept).toString('utf8')
  }
}

/** Relay a chunk; a slow consumer pauses `src` (the command blocks on a full pipe or
 *  pty) until it has caught up. */
export function relayPaced(relay: Relay, stream: 'stdout' | 'stderr', b: Buffer, src: { pause(): unknown; resume(): unknown }): void {
  const p = relay.push(stream, b)
  if (p) {
    src.pause()
    void p.then(() => src.resume(), () => src.resume())
  }
}
