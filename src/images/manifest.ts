import { z } from 'zod'
import { invalidManifest, unsupportedMediaType } from './errors.js'
import { isIndex, isManifest, MT } from './media-types.js'
import type { Descriptor, Digest, ImageConfig, Platform } from './types.js'

// OCI image spec: manifest.md, image-index.md, config.md; Docker image manifest v2 schema 2.
// Schemas are lenient about extra fields (registries add annotations etc.) and strict about
// the fields we act on. An OCI manifest may omit `mediaType` (it is only SHOULD in v1.0).
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'expected sha256:<64 hex>') as unknown as z.ZodType<Digest>
const platform = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).loose()
export const DescriptorSchema = z
  .object({
    mediaType: z.string(),
    digest,
    size: z.number().int().nonnegative(),
    platform: platform.optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    urls: z.array(z.string()).optional(),
  })
  .loose()

export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema),
  })
  .loose()
export const IndexSchema = z
  .object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(DescriptorSchema) })
  .loose()

const strArr = z.array(z.string()).nullish()
export const ConfigSchema = z
  .object({
    architecture: z.string().default(''),
    os: z.string().default(''),
    variant: z.string().optional(),
    created: z.string().optional(),
    config: z
      .object({
        Env: strArr,
        Cmd: strArr,
        Entrypoint: strArr,
        WorkingDir: z.string().nullish(),
        User: z.string().nullish(),
        ExposedPorts: z.record(z.string(), z.object({}).loose()).nullish(),
        Labels: z.record(z.string(), z.string()).nullish(),
        StopSignal: z.string().nullish(),
        Volumes: z.record(z.string(), z.object({}).loose()).nullish(),
        Healthcheck: z
          .object({ Test: strArr, Interval: z.number().nullish(), Timeout: z.number().nullish(), StartPeriod: z.number().nullish(), StartInterval: z.number().nullish(), Retries: z.number().nullish() })
          .loose()
          .nullish(),
      })
      .loose()
      .nullish(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }).loose(),
    history: z.array(z.object({}).loose()).optional(),
  })
  .loose()

export type Manifest = z.infer<typeof ManifestSchema> & { config: Descriptor; layers: Descriptor[] }
export type Index = z.infer<typeof IndexSchema> & { manifests: Descriptor[] }
export type ParsedManifest = { kind: 'manifest'; mediaType: string; manifest: Manifest } | { kind: 'index'; mediaType: string; index: Index }
export interface ParsedConfig {
  platform: Platform
  config: ImageConfig
  diffIds: Digest[]
  raw: z.infer<typeof ConfigSchema>
}

function json(what: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (e) {
    throw invalidManifest(what, `not valid JSON (${(e as Error).message})`)
  }
}
const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')

/** Parse a manifest or index. `contentType` is the registry's Content-Type (may be
 *  missing or generic); the body's own mediaType wins; structure decides otherwise. */
export function parseManifest(bytes: Uint8Array, contentType?: string, what = 'manifest'): ParsedManifest {
  const doc = json(what, bytes) as Record<string, unknown>
  if (typeof doc !== 'object' || doc === null) throw invalidManifest(what, 'not a JSON object')
  if (doc.schemaVersion === 1) throw unsupportedMediaType(what, 'application/vnd.docker.distribution.manifest.v1+json (schema 1)')
  const ct = contentType?.split(';')[0]?.trim()
  let mt = typeof doc.mediaType === 'string' ? doc.mediaType : ct && (isIndex(ct) || isManifest(ct)) ? ct : undefined
  if (!mt) mt = Array.isArray(doc.manifests) ? MT.ociIndex : Array.isArray(doc.layers) ? MT.ociManifest : undefined
  if (!mt) throw invalidManifest(what, 'neither an image manifest nor an index')
  if (isIndex(mt)) {
    const r = IndexSchema.safeParse(doc)
    if (!r.success) throw invalidManifest(what, issues(r.error))
    return { kind: 'index', mediaType: mt, index: r.data as Index }
  }
  if (isManifest(mt)) {
    const r = ManifestSchema.safeParse(doc)
    if (!r.success) throw invalidManifest(what, issues(r.error))
    return { kind: 'manifest', mediaType: mt, manifest: r.data as Manifest }
  }
  throw unsupportedMediaType(what, mt)
}

/** Parse an image config blob into what skiff stores and runs. */
export function parseConfig(bytes: Uint8Array, what = 'image config'): ParsedConfig {
  const r = ConfigSchema.safeParse(json(what, bytes))
  if (!r.success) throw invalidManifest(what, issues(r.error))
  const c = r.data.config ?? {}
  const config: ImageConfig = {}
  if (c.Env) config.Env = c.Env
  if (c.Cmd) config.Cmd = c.Cmd
  if (c.Entrypoint) config.Entrypoint = c.Entrypoint
  if (c.WorkingDir) config.WorkingDir = c.WorkingDir
  if (c.User) config.User = c.User
  if (c.ExposedPorts) config.ExposedPorts = c.ExposedPorts
  if (c.Labels) config.Labels = c.Labels
  if (c.StopSignal) config.StopSignal = c.StopSignal
  if (c.Volumes) config.Volumes = c.Volumes
  if (c.Healthcheck?.Test?.length) {
    const h = c.Healthcheck
    config.Healthcheck = { Test: h.Test! }
    for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (typeof h[k] === 'number') config.Healthcheck[k] = h[k]
  }
  const platform: Platform = { os: r.data.os, architecture: r.data.architecture, ...(r.data.variant ? { variant: r.data.variant } : {}) }
  return { platform, config, diffIds: r.data.rootfs.diff_ids, raw: r.data }
}
