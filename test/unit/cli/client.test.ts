import { describe, expect, it } from 'vitest'
import { apiError, parseHost } from '../../../src/cli/client.js'

describe('SKIFF_HOST forms (DOCKER_HOST\'s)', () => {
  it.each([
    ['unix:///run/skiff/skiff.sock', { kind: 'unix', socket: '/run/skiff/skiff.sock' }],
    ['/tmp/x.sock', { kind: 'unix', socket: '/tmp/x.sock' }],
    ['tcp://127.0.0.1:7777', { kind: 'tcp', origin: 'http://127.0.0.1:7777' }],
    ['tcp://localhost', { kind: 'tcp', origin: 'http://localhost:7777' }],
    ['http://127.0.0.1:9000/', { kind: 'tcp', origin: 'http://127.0.0.1:9000' }],
    ['127.0.0.1:9000', { kind: 'tcp', origin: 'http://127.0.0.1:9000' }],
    ['tcp://[::1]:9000', { kind: 'tcp', origin: 'http://[::1]:9000' }],
  ])('%s', (host, want) => expect(parseHost(host)).toEqual(want))

  it.each(['ssh://me@host', 'unix://relative.sock', 'https://x:1', 'tcp://a b'])('refuses %s naming SKIFF_HOST', (host) => {
    expect(() => parseHost(host)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: { field: 'SKIFF_HOST' } }))
  })
})

describe('apiError', () => {
  it('keeps the daemon\'s code and field', () => {
    expect(apiError(400, '{"error":{"code":"INVALID_ARGUMENT","message":"x: bad","field":"x"}}')).toMatchObject({ kind: 'invalid_argument', code: 'INVALID_ARGUMENT', extra: { field: 'x' } })
  })
  it('survives a body that is not JSON', () => {
    expect(apiError(502, 'Bad Gateway')).toMatchObject({ kind: 'upstream', code: 'HTTP_502', message: 'Bad Gateway' })
  })
})
