import { beforeAll, describe, expect, it } from 'vitest'
import { fixtures, image, layer, type FixtureSet } from '../../fixtures/images.js'
import { file } from '../../fixtures/tar.js'
import { fakeRegistry, type FakeRegistry } from './fake-registry.js'
import { tmpService } from './helpers.js'

// The registry is untrusted: scripted node:http registries on 127.0.0.x misbehave in one way
// each; the pull must fail with a clear code and leave no blob, snapshot or row behind.
const EMPTY = { blobs: 0, snapshots: 0, images: 0, layers: 0 }
let f: FixtureSet
beforeAll(async () => {
  f = await fixtures()
})

async function withFake<T>(fake: FakeRegistry, fn: (fake: FakeRegistry) => Promise<T>): Promise<T> {
  try {
    return await fn(fake)
  } finally {
    await fake.close()
  }
}

describe('hostile registries', () => {
  it('a layer whose bytes do not match its digest fails the pull and rolls back the layers that succeeded', async () => {
    const bad = f.multi.layers[2]!
    const fake = await fakeRegistry({ multi: f.multi }, (req, res) => {
      if (!req.url!.endsWith(bad.digest)) return false
      const b = Buffer.from(bad.blob)
      const i = b.length - 600
      b[i] = b[i]! ^ 0xff // same size, different bytes
      res.writeHead(200, { 'content-length': b.length }).end(b)
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        await expect(t.svc.pull(`${fake.host}/x/multi`)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', kind: 'upstream' })
        expect(await t.counts()).toEqual(EMPTY)
        expect(t.svc.resolve(`${fake.host}/x/multi`)).toBeUndefined()
      } finally {
        await t.dispose()
      }
    })
  })

  it('a layer whose extracted bytes do not match the config diff_id is refused (DIFF_ID_MISMATCH)', async () => {
    const honest = await layer([file('a', 'a\n')], 'gzip')
    const other = await layer([file('a', 'evil\n')], 'gzip')
    const img = image([{ ...honest, diffId: other.diffId }]) // config claims another layer's diff id
    const fake = await fakeRegistry({ lie: img })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        await expect(t.svc.pull(`${fake.host}/x/lie`)).rejects.toMatchObject({ code: 'DIFF_ID_MISMATCH' })
        expect(await t.counts()).toEqual(EMPTY)
        expect(await t.svc.snapshots.has(other.diffId)).toBe(false)
      } finally {
        await t.dispose()
      }
    })
  })

  it.each([
    ['with content-length', true],
    ['chunked', false],
  ])('an oversized manifest (%s) fails with BLOB_TOO_LARGE', async (_n, withLength) => {
    const big = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [], pad: 'x'.repeat(5 << 20) }))
    const fake = await fakeRegistry({}, (req, res) => {
      if (!req.url!.includes('/manifests/')) return false
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...(withLength ? { 'content-length': big.length } : {}) })
      res.end(big)
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        await expect(t.svc.pull(`${fake.host}/x/big`)).rejects.toMatchObject({ code: 'BLOB_TOO_LARGE' })
        expect(await t.counts()).toEqual(EMPTY)
      } finally {
        await t.dispose()
      }
    })
  })

  it('too many layers fails with TOO_MANY_LAYERS before any download', async () => {
    const fake = await fakeRegistry({ multi: f.multi })
    await withFake(fake, async () => {
      const t = tmpService({ limits: { maxLayers: 2 } })
      try {
        await expect(t.svc.pull(`${fake.host}/x/multi`)).rejects.toMatchObject({ code: 'TOO_MANY_LAYERS' })
        expect(fake.requests.filter((r) => r.url.includes('/blobs/'))).toEqual([])
      } finally {
        await t.dispose()
      }
    })
  })

  it('a blob redirect to another host is followed without the Authorization header', async () => {
    const cdn = await fakeRegistry({}, (req, res) => {
      const d = req.url!.split('/').pop()!
      const l = f.schema2.layers.find((x) => x.digest === d) ?? undefined
      const body = l ? l.blob : d === f.schema2.configDigest ? f.schema2.config : undefined
      if (!body) return false
      res.writeHead(200, { 'content-length': body.length }).end(body)
      return true
    }, '127.0.0.2')
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`
    const reg = await fakeRegistry({ s2: f.schema2 }, (req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end()
        return true
      }
      const m = /\/blobs\/(sha256:[a-f0-9]+)$/.exec(req.url!)
      if (!m) return false
      res.writeHead(307, { location: `http://${cdn.host}/cdn/${m[1]}` }).end()
      return true
    })
    await withFake(cdn, () =>
      withFake(reg, async () => {
        const t = tmpService({ registries: { auth: { [reg.host]: { username: 'u', password: 'p' } } } })
        try {
          const img = await t.svc.pull(`${reg.host}/x/s2`)
          expect(img.id).toBe(f.schema2.configDigest)
          expect(cdn.requests.length).toBeGreaterThanOrEqual(3)
          expect(cdn.requests.map((r) => r.headers.authorization)).toEqual(cdn.requests.map(() => undefined))
          expect(reg.requests.filter((r) => r.url.includes('/blobs/')).every((r) => r.headers.authorization === basic)).toBe(true)
        } finally {
          await t.dispose()
        }
      }),
    )
  })

  it('a redirect to a non-http(s) scheme is refused (REDIRECT_REFUSED)', async () => {
    const fake = await fakeRegistry({ s2: f.schema2 }, (req, res) => {
      if (!req.url!.includes('/blobs/')) return false
      res.writeHead(302, { location: 'file:///etc/shadow' }).end()
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        await expect(t.svc.pull(`${fake.host}/x/s2`)).rejects.toMatchObject({ code: 'REDIRECT_REFUSED' })
        expect(await t.counts()).toEqual(EMPTY)
      } finally {
        await t.dispose()
      }
    })
  })

  it('a stalled blob times out without blocking another pull', async () => {
    const stalled = f.multi.layers[0]!
    const solo = image([await layer([file('solo', 'not sharing any layer\n')], 'gzip')])
    const fake = await fakeRegistry({ multi: f.multi, solo }, (req, res) => {
      if (!req.url!.endsWith(`multi/blobs/${stalled.digest}`)) return false
      res.writeHead(200, { 'content-length': stalled.blob.length })
      res.write(stalled.blob.subarray(0, 1000)) // then nothing, connection held open
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService({ registries: { transport: { bodyTimeoutMs: 1500 }, retries: 1 } })
      try {
        const t0 = Date.now()
        const slow = t.svc.pull(`${fake.host}/x/multi`).then(
          () => ({ ok: true as const, ms: Date.now() - t0 }),
          (e: unknown) => ({ ok: false as const, e, ms: Date.now() - t0 }),
        )
        const other = await t.svc.pull(`${fake.host}/x/solo`)
        const otherMs = Date.now() - t0
        expect(other.id).toBe(solo.configDigest)
        const r = await slow
        expect(r.ok).toBe(false)
        expect(r.ok ? undefined : r.e).toMatchObject({ code: 'REGISTRY_TIMEOUT', kind: 'unavailable' })
        expect(otherMs).toBeLessThan(r.ms)
        expect(r.ms).toBeLessThan(10_000)
        expect(t.svc.resolve(`${fake.host}/x/multi`)).toBeUndefined()
        const c = await t.counts()
        expect(c.images).toBe(1)
      } finally {
        await t.dispose()
      }
    })
  })

  it('an auth loop ends with REGISTRY_UNAUTHORIZED after a bounded number of tries', async () => {
    let tokenHits = 0
    const fake = await fakeRegistry({ multi: f.multi }, (req, res) => {
      if (req.url!.startsWith('/token')) {
        tokenHits++
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `t${tokenHits}`, expires_in: 300 }))
        return true
      }
      const host = req.headers.host
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="repository:x/multi:pull"` }).end()
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        await expect(t.svc.pull(`${fake.host}/x/multi`)).rejects.toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' })
        expect(tokenHits).toBeLessThanOrEqual(2)
        expect(fake.requests.length).toBeLessThanOrEqual(6)
      } finally {
        await t.dispose()
      }
    })
  })
})


describe('cancellation', () => {
  it('aborting a pull mid-download rejects with ABORTED after rolling back everything', async () => {
    const f2 = await fixtures()
    const stalled = f2.multi.layers[1]!
    let stalledBegun = false
    let check = () => {}
    const fake = await fakeRegistry({ multi: f2.multi }, (req, res) => {
      if (!req.url!.endsWith(stalled.digest)) return false
      res.writeHead(200, { 'content-length': stalled.blob.length })
      res.write(stalled.blob.subarray(0, 100), () => {
        stalledBegun = true
        check()
      })
      return true
    })
    await withFake(fake, async () => {
      const t = tmpService()
      try {
        const ac = new AbortController()
        // abort once the other layers are in and the stalled one has begun: the event, not a time
        const done = new Set<string>()
        let ready!: () => void
        const inFlight = new Promise<void>((r) => (ready = r))
        check = () => {
          if (stalledBegun && done.size === f2.multi.layers.length - 1) ready()
        }
        const p = t.svc.pull(`${fake.host}/x/multi`, {
          signal: ac.signal,
          onProgress: (pr) => {
            if (pr.state === 'done') done.add(pr.layer)
            check()
          },
        })
        p.catch(() => {})
        await inFlight
        ac.abort()
        await expect(p).rejects.toMatchObject({ code: 'ABORTED' })
        expect(await t.counts()).toEqual(EMPTY) // the other two layers were unpacked, then rolled back
        const again = await t.svc.pull(`${fake.host}/x/multi`, { signal: AbortSignal.timeout(200) }).catch((e: unknown) => e)
        expect(again).toMatchObject({ code: 'ABORTED' })
      } finally {
        await t.dispose()
      }
    })
  })
})
