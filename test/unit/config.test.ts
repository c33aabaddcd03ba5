import { describe, expect, it } from 'vitest'
import { parseConfig, parseListen } from '../../src/config.js'

describe('daemon config', () => {
  it.each(['0.0.0.0:7777', '10.1.2.3:80', '[::]:7777'])('refuses to listen on %s without --allow-public-listen', (listen) => {
    expect(() => parseConfig({}, {}, { listen })).toThrow(expect.objectContaining({ code: 'PUBLIC_LISTEN_REFUSED', extra: { field: 'listen' } }))
    expect(parseConfig({}, {}, { listen, allowPublicListen: true }).listen).toBe(listen)
  })
  it.each(['127.0.0.1:7777', 'localhost:1', '[::1]:9', ':7777', ''])('accepts %j', (listen) => {
    expect(parseConfig({}, {}, { listen }).listen).toBe(listen)
  })
  it('names a malformed listen address', () => {
    expect(() => parseListen('nope')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
    expect(() => parseListen('127.0.0.1:99999')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }))
  })
})
