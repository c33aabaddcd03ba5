import { describe, expect, it } from 'vitest'
import { admitConnection, connectionSpec, connectionsToPrune, LABEL_LISTENER } from '../../../src/scheduler/per-connection.js'
import type { RunSpec } from '../../../src/scheduler/types.js'

describe('admitConnection', () => {
  it.each([
    [{ active: 0, maxConnections: 1, closing: false }, { accept: true }],
    [{ active: 19, maxConnections: 20, closing: false }, { accept: true }],
    [{ active: 20, maxConnections: 20, closing: false }, { accept: false, reason: 'max-connections' }],
    [{ active: 25, maxConnections: 20, closing: false }, { accept: false, reason: 'max-connections' }],
    [{ active: 0, maxConnections: 20, closing: true }, { accept: false, reason: 'closing' }],
    [{ active: 20, maxConnections: 20, closing: true }, { accept: false, reason: 'closing' }],
  ])('%j → %j', (s, want) => {
    expect(admitConnection(s)).toEqual(want)
  })
})

const listener: RunSpec = {
  image: 'challenge:1', cmd: ['/chal'], env: { FLAG: 'x' }, name: 'pwn1', labels: { ctf: 'yes' }, user: 'nobody',
  limits: { memoryBytes: 64 << 20, pids: 32, timeoutMs: 60_000 }, network: { mode: 'none' }, pull: 'always',
  restart: { mode: 'always' }, healthcheck: 'none', stopSignal: 'SIGINT', readonlyRootfs: true, capDrop: ['ALL'],
  listen: { hostIp: '127.0.0.1', port: 9000, perConnection: true, maxConnections: 20, timeoutMs: 30_000 },
}

describe('connectionSpec', () => {
  it('runs the listener\'s image, command, user and limits, with the connection as stdin; the listener\'s own fields stay its own', () => {
    const c = connectionSpec(listener, 'L1')
    expect(c).toEqual({
      image: 'challenge:1', cmd: ['/chal'], env: { FLAG: 'x' }, labels: { ctf: 'yes', [LABEL_LISTENER]: 'L1' }, user: 'nobody',
      limits: { memoryBytes: 64 << 20, pids: 32, timeoutMs: 30_000 }, network: { mode: 'none' }, pull: 'missing',
      stopSignal: 'SIGINT', readonlyRootfs: true, capDrop: ['ALL'],
      interactive: true, healthcheck: 'none', autoRemove: true,
    })
    expect(c.listen).toBeUndefined()
    expect(c.name).toBeUndefined()
    expect(c.restart).toBeUndefined()
  })

  it.each([
    [{ timeoutMs: 5_000 }, { timeoutMs: 60_000 }, 5_000],
    [{}, { timeoutMs: 60_000 }, 60_000],
    [{}, {}, undefined],
  ])('timeout: listen %j, limits %j → %s', (l, limits, want) => {
    const spec: RunSpec = { ...listener, limits, listen: { hostIp: '127.0.0.1', port: 1, perConnection: true, maxConnections: 1, ...l } }
    expect(connectionSpec(spec, 'L').limits.timeoutMs).toBe(want)
  })
})

describe('connectionsToPrune', () => {
  it.each([
    [['c', 'b', 'a'], 3, []],
    [['c', 'b', 'a'], 5, []],
    [['c', 'b', 'a'], 1, ['b', 'a']],
    [['c', 'b', 'a'], 0, ['c', 'b', 'a']],
    [[], 2, []],
  ])('%j keep %d → %j', (ids, keep, want) => {
    expect(connectionsToPrune(ids, keep)).toEqual(want)
  })
})
