import { describe, expect, it } from 'vitest'
import { parseConfig, parseManifest } from '../../../src/images/manifest.js'
import { MT, layerCompression } from '../../../src/images/media-types.js'
import { parsePlatform, selectManifest } from '../../../src/images/platform.js'
import type { Descriptor, Digest } from '../../../src/images/types.js'

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest
const enc = (o: unknown) => Buffer.from(JSON.stringify(o))
const manifest = (extra: object = {}) => ({
  schemaVersion: 2,
  config: { mediaType: MT.ociConfig, digest: d('a'), size: 10 },
  layers: [{ mediaType: MT.ociLayerGzip, digest: d('b'), size: 20 }],
  ...extra,
})
const index = (mt?: string) => ({
  schemaVersion: 2,
  ...(mt ? { mediaType: mt } : {}),
  manifests: [
    { mediaType: MT.ociManifest, digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: MT.ociManifest, digest: d('2'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: MT.ociManifest, digest: d('3'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
  ],
})

describe('parseManifest', () => {
  const cases = [
    { name: 'OCI manifest without mediaType', body: manifest(), ct: undefined, kind: 'manifest', mt: MT.ociManifest },
    { name: 'OCI manifest with mediaType', body: manifest({ mediaType: MT.ociManifest }), ct: 'application/json', kind: 'manifest', mt: MT.ociManifest },
    { name: 'Docker schema2 by content-type', body: manifest(), ct: MT.dockerManifest, kind: 'manifest', mt: MT.dockerManifest },
    { name: 'OCI index', body: index(MT.ociIndex), ct: undefined, kind: 'index', mt: MT.ociIndex },
    { name: 'Docker manifest list', body: index(MT.dockerList), ct: MT.dockerList, kind: 'index', mt: MT.dockerList },
    { name: 'index without mediaType', body: index(), ct: undefined, kind: 'index', mt: MT.ociIndex },
  ] as const
  it.each(cases)('$name', ({ body, ct, kind, mt }) => {
    const p = parseManifest(enc(body), ct)
    expect(p.kind).toBe(kind)
    expect(p.mediaType).toBe(mt)
  })
  const bad = [
    { name: 'not JSON', bytes: Buffer.from('{'), code: 'INVALID_MANIFEST' },
    { name: 'schema 1', bytes: enc({ schemaVersion: 1, fsLayers: [] }), code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'bad digest', bytes: enc(manifest({ config: { mediaType: MT.ociConfig, digest: 'sha256:xyz', size: 1 } })), code: 'INVALID_MANIFEST' },
    { name: 'unknown media type', bytes: enc(manifest({ mediaType: 'application/x-foo' })), code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'neither', bytes: enc({ schemaVersion: 2 }), code: 'INVALID_MANIFEST' },
    { name: 'negative size', bytes: enc(manifest({ layers: [{ mediaType: MT.ociLayer, digest: d('c'), size: -1 }] })), code: 'INVALID_MANIFEST' },
  ]
  it.each(bad)('rejects $name', ({ bytes, code }) => {
    expect(() => parseManifest(bytes)).toThrow(expect.objectContaining({ code }))
  })
})

describe('parseConfig', () => {
  it('extracts platform, runtime config and diff ids', () => {
    const c = parseConfig(enc({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'], Cmd: ['sh'], WorkingDir: '/w', User: null }, rootfs: { type: 'layers', diff_ids: [d('e')] } }))
    expect(c).toMatchObject({ platform: { os: 'linux', architecture: 'amd64' }, config: { Env: ['A=1'], Cmd: ['sh'], WorkingDir: '/w' }, diffIds: [d('e')] })
    expect(c.config.User).toBeUndefined()
  })
  it('requires rootfs', () => {
    expect(() => parseConfig(enc({ architecture: 'amd64', os: 'linux' }))).toThrow(expect.objectContaining({ code: 'INVALID_MANIFEST' }))
  })
})

describe('platform', () => {
  const idx = index().manifests as Descriptor[]
  it.each([
    ['linux/amd64', d('2')],
    ['linux/arm64', d('1')],
    ['linux/arm64/v8', d('1')],
    ['linux/x86_64', d('2')],
  ])('%s selects %s', (p, want) => {
    expect(selectManifest(idx, parsePlatform(p)).digest).toBe(want)
  })
  it('lists what is available when nothing matches', () => {
    expect.assertions(2)
    try {
      selectManifest(idx, parsePlatform('linux/s390x'))
    } catch (e) {
      expect(e).toMatchObject({ code: 'NO_MATCHING_PLATFORM' })
      expect((e as Error).message).toContain('linux/arm64/v8, linux/amd64')
    }
  })
  it.each(['linux', 'a/b/c/d', 'linux/amd 64'])('rejects %j', (p) => {
    expect(() => parsePlatform(p)).toThrow(expect.objectContaining({ code: 'INVALID_PLATFORM' }))
  })
  it('maps layer media types to compression', () => {
    expect([MT.dockerLayerGzip, MT.ociLayerZstd, MT.ociLayer, 'x'].map(layerCompression)).toEqual(['gzip', 'zstd', 'none', undefined])
  })
})
