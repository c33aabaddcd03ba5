/** One line of `npm run bench`: skiff's time for some work next to a peer's time for the same work. */
export interface BenchRow {
  name: string
  skiff_ms: number
  peer: string
  peer_ms: number | null
  /** skiff / peer (lower is better); null when the peer could not run here. */
  ratio: number | null
  note?: string
  /** what skiff_ms and peer_ms count when not milliseconds (e.g. 'MiB') */
  unit?: string
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

export const median = (xs: number[]) => percentile(xs, 50)

export function row(name: string, skiffMs: number, peer: string, peerMs: number | null, note?: string): BenchRow {
  return { name, skiff_ms: round(skiffMs), peer, peer_ms: peerMs === null ? null : round(peerMs), ratio: peerMs ? round(skiffMs / peerMs, 3) : null, ...(note ? { note } : {}) }
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d
