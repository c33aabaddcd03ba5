import { randomBytes } from 'node:crypto'

/**
 * Single-use, short-lived WebSocket tickets. A browser cannot put a header on a
 * WebSocket upgrade, and a token in a URL ends up in shell history, proxy and
 * access logs; so an authenticated `POST /auth/tickets` mints a ticket, and the
 * upgrade carries that instead (`?ticket=` or `Sec-WebSocket-Protocol:
 * ticket.<t>`). A ticket is redeemed at most once and dies after `ttlMs`; what
 * leaks from a log is spent or expired. In memory only: a daemon restart voids
 * every ticket (clients mint a new one per connection anyway).
 */
export class TicketStore {
  readonly #tickets = new Map<string, number>()
  readonly #ttlMs: number
  readonly #max: number
  readonly #now: () => number

  constructor(o: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = o.ttlMs ?? 30_000
    this.#max = o.max ?? 10_000
    this.#now = o.now ?? Date.now
  }

  get ttlMs(): number {
    return this.#ttlMs
  }

  mint(): { ticket: string; expiresAt: Date } {
    this.#sweep()
    // bounded: a client minting in a loop evicts its own oldest tickets, never grows memory
    while (this.#tickets.size >= this.#max) this.#tickets.delete(this.#tickets.keys().next().value!)
    const ticket = randomBytes(24).toString('base64url')
    const expires = this.#now() + this.#ttlMs
    this.#tickets.set(ticket, expires)
    return { ticket, expiresAt: new Date(expires) }
  }

  /** True once per minted, unexpired ticket; false for anything else. */
  redeem(ticket: string | undefined | null): boolean {
    if (!ticket) return false
    const expires = this.#tickets.get(ticket)
    if (expires === undefined) return false
    this.#tickets.delete(ticket)
    return expires > this.#now()
  }

  #sweep() {
    const now = this.#now()
    // insertion order is expiry order (one ttl for all)
    for (const [t, exp] of this.#tickets) {
      if (exp > now) break
      this.#tickets.delete(t)
    }
  }
}
