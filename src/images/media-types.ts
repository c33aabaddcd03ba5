// Media types of the OCI image spec (media-types.md) and Docker's image manifest v2 schema 2.
export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const

export const isIndex = (mt: string | undefined): boolean => mt === MT.ociIndex || mt === MT.dockerList
export const isManifest = (mt: string | undefined): boolean => mt === MT.ociManifest || mt === MT.dockerManifest

/** Accept header for manifest GET/HEAD: everything we can parse. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(', ')

export type LayerCompression = 'gzip' | 'zstd' | 'none'
/** Layer media type → compression; undefined for types we do not know. */
export function layerCompression(mt: string): LayerCompression | undefined {
  switch (mt) {
    case MT.ociLayerGzip:
    case MT.ociLayerNondistGzip:
    case MT.dockerLayerGzip:
    case MT.dockerLayerForeign:
      return 'gzip'
    case MT.ociLayerZstd:
      return 'zstd'
    case MT.ociLayer:
    case MT.dockerLayer:
      return 'none'
    default:
      return undefined
  }
}
