import { describe, expect, it } from 'vitest'
import { TicketStore } from '../../../src/http/tickets.js'

describe('TicketStore', () => {
  it('a ticket is good once, only before it expires; unknown and empty ones never', () => {
    let now = 1_000_000
    const s = new TicketStore({ ttlMs: 30_000, now: () => now })
    const a = s.mint()
    expect(a.expiresAt.getTime()).toBe(now + 30_000)
    expect(s.redeem(a.ticket)).toBe(true)
    expect(s.redeem(a.ticket)).toBe(false)
    const b = s.mint()
    now += 30_000
    expect(s.redeem(b.ticket)).toBe(false) // expired at exactly ttl
    expect(s.redeem('made-up')).toBe(false)
    expect(s.redeem('')).toBe(false)
    expect(s.redeem(undefined)).toBe(false)
    expect(s.redeem('__proto__')).toBe(false)
  })
  it('tickets are unguessable strings, distinct each time', () => {
    const s = new TicketStore()
    const t = new Set(Array.from({ length: 100 }, () => s.mint().ticket))
    expect(t.size).toBe(100)
    for (const x of t) expect(x).toMatch(/^[A-Za-z0-9_-]{32}$/)
  })
  it('memory is bounded: past `max` outstanding tickets the oldest are evicted', () => {
    const s = new TicketStore({ max: 3 })
    const [a, b, c, d] = [s.mint(), s.mint(), s.mint(), s.mint()]
    expect(s.redeem(a.ticket)).toBe(false)
    for (const x of [b, c, d]) expect(s.redeem(x.ticket)).toBe(true)
  })
})
