/** Shared image-layer types (OCI image spec vocabulary). */
export type Digest = `sha256:${string}`

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

export interface Descriptor {
  mediaType: string
  digest: Digest
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  urls?: string[]
}

/** The runtime-relevant part of an image config (`config` in the OCI image config). */
export interface ImageConfig {
  Env?: string[]
  Cmd?: string[]
  Entrypoint?: string[]
  WorkingDir?: string
  User?: string
  ExposedPorts?: Record<string, object>
  Labels?: Record<string, string>
  StopSignal?: string
  Volumes?: Record<string, object>
  /** docker's HEALTHCHECK; durations in nanoseconds */
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number }
}

export interface ImageLayer {
  diffId: Digest
  digest: Digest
  size: number
  mediaType: string
}

export interface ImageRecord {
  id: Digest // config digest (docker's "image ID")
  refs: string[] // normalized references pointing at it
  manifestDigest: Digest
  platform: Platform
  config: ImageConfig
  layers: ImageLayer[] // base first
  size: number
  createdAt: Date
}

/** Per-layer pull progress (one event per state change or ~chunk). */
export interface PullProgress {
  ref: string
  layer: Digest
  state: 'waiting' | 'downloading' | 'exists' | 'done'
  bytes: number
  total: number
}

/** A parsed, normalized image reference (docker's rules). */
export interface Reference {
  /** Registry host as written (docker.io for Docker Hub), possibly with :port. */
  domain: string
  /** Repository path, e.g. library/busybox. */
  path: string
  tag?: string
  digest?: Digest
}
