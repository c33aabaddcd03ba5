import { z } from 'zod'
import type { ImageRecord } from '../../images/types.js'

export const PullSchema = z.object({ image: z.string().min(1).max(1024).describe('reference to pull') }).strict()

export const ImageViewSchema = z.object({
  id: z.string(),
  refs: z.array(z.string()),
  manifestDigest: z.string(),
  platform: z.string(),
  size: z.number(),
  layers: z.array(z.object({ diffId: z.string(), digest: z.string(), size: z.number() })),
  config: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
})

export function toImageView(i: ImageRecord) {
  const p = i.platform
  return {
    id: i.id,
    refs: i.refs,
    manifestDigest: i.manifestDigest,
    platform: [p.os, p.architecture, p.variant].filter(Boolean).join('/'),
    size: i.size,
    layers: i.layers.map((l) => ({ diffId: l.diffId, digest: l.digest, size: l.size })),
    config: i.config as Record<string, unknown>,
    createdAt: i.createdAt.toISOString(),
  }
}
