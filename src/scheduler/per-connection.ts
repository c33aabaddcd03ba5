import type { RunSpec } from './types.js'

/** The label every connection's job carries: its listener's id (also in `parentId`). */
export const LABEL_LISTENER = 'skiff.listener'

/** Settled connection jobs a listener keeps by default: each has a job row and a log directory. */
export const DEFAULT_KEEP_CONNECTIONS = 1000

/** Pure: which settled connection jobs go, given them newest first. */
export function connectionsToPrune(settledNewestFirst: readonly string[], keep: number): string[] {
  return settledNewestFirst.slice(Math.max(0, keep))
}

export type RefuseReason = 'max-connections' | 'closing'
export type Admission = { accept: true } | { accept: false; reason: RefuseReason }

/** Pure: whether a listener takes one more connection. `active` counts the
 *  connections it serves now (their jobs not settled). A listener that is
 *  closing (stop, kill, removal) takes none. */
export function admitConnection(s: { active: number; maxConnections: number; closing: boolean }): Admission {
  if (s.closing) return { accept: false, reason: 'closing' }
  if (s.active >= s.maxConnections) return { accept: false, reason: 'max-connections' }
  return { accept: true }
}

/** Pure: the job one connection runs, from its listener's spec. The same image,
 *  command, user, limits and network as the listener asked for; the connection
 *  is its stdin (interactive) and stdout; the listener's name, restart policy,
 *  healthcheck and stdin are the listener's own. Each connection is a fresh
 *  sandbox: its writable layer goes when it ends (`auto_remove`); record and
 *  logs stay as the connection's account. Its timeout is the listener's
 *  per-connection timeout, else the job's. */
export function connectionSpec(listener: RunSpec, listenerId: string): RunSpec {
  const { listen, name: _name, restart: _restart, backoff: _backoff, stdin: _stdin, healthcheck: _health, onUnhealthy: _onUnhealthy, ports: _ports, notBefore: _notBefore, ...rest } = listener
  const timeoutMs = listen?.timeoutMs ?? listener.limits.timeoutMs
  return {
    ...rest,
    labels: { ...listener.labels, [LABEL_LISTENER]: listenerId },
    limits: { ...listener.limits, ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
    interactive: true,
    healthcheck: 'none',
    // the listener pulled the image: a connection never waits for a registry
    pull: 'missing',
    autoRemove: true,
  }
}
