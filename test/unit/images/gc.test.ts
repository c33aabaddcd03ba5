import { describe, expect, it } from 'vitest'
import { planPrune, type GcImage } from '../../../src/images/gc.js'
import { Leases, mapLimit } from '../../../src/images/pull.js'
import type { Digest } from '../../../src/images/types.js'

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest
const base = d('b')
const imgA: GcImage = { id: d('a'), refs: ['a:1'], diffIds: [base, d('1')], blobs: [d('m'), d('c')] }
const dangling: GcImage = { id: d('e'), refs: [], diffIds: [base, d('2')], blobs: [d('n')] }
const world = { images: [imgA, dangling], layers: [base, d('1'), d('2'), d('9')], blobs: [d('a'), d('e'), d('m'), d('n'), d('c'), d('f')] }

describe('planPrune', () => {
  const cases = [
    { name: 'dangling images and orphans', opts: { inUse: new Set<string>() }, images: [d('e')], layers: [d('2'), d('9')], blobs: [d('e'), d('n'), d('f')] },
    { name: 'a dangling image in use is kept', opts: { inUse: new Set<string>([d('e')]) }, images: [], layers: [d('9')], blobs: [d('f')] },
    { name: 'all: every unused image', opts: { inUse: new Set<string>(), all: true }, images: [d('a'), d('e')], layers: world.layers, blobs: world.blobs },
    { name: 'all spares images in use and their layers', opts: { inUse: new Set<string>([d('a')]), all: true }, images: [d('e')], layers: [d('2'), d('9')], blobs: [d('e'), d('n'), d('f')] },
    { name: 'leased digests survive', opts: { inUse: new Set<string>(), leased: new Set<string>([d('9'), d('f')]) }, images: [d('e')], layers: [d('2')], blobs: [d('e'), d('n')] },
  ]
  it.each(cases)('$name', ({ opts, images, layers, blobs }) => {
    const p = planPrune(world, opts)
    expect(p.images).toEqual(images)
    expect(p.layers).toEqual(layers)
    expect(p.blobs).toEqual(blobs)
  })
})

describe('Leases', () => {
  it('counts holders and releases once', () => {
    const l = new Leases()
    const r1 = l.acquire(['x', 'y', 'x'])
    const r2 = l.acquire(['x'])
    expect([l.count('x'), l.count('y')]).toEqual([2, 1])
    r1()
    r1()
    expect([l.count('x'), l.count('y')]).toEqual([1, 0])
    r2()
    expect(l.keys()).toEqual(new Set())
  })
})

describe('mapLimit', () => {
  it('never runs more than the limit and keeps order', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      peak = Math.max(peak, ++running)
      await new Promise((r) => setTimeout(r, 5))
      running--
      return n * 10
    })
    expect(out).toEqual([10, 20, 30, 40, 50, 60])
    expect(peak).toBe(2)
  })
  it('rejects with the first error after started work settles', async () => {
    let settled = 0
    await expect(
      mapLimit([1, 2, 3], 3, async (n) => {
        await new Promise((r) => setTimeout(r, n * 5))
        settled++
        if (n === 1) throw new Error('first')
        return n
      }),
    ).rejects.toThrow('first')
    expect(settled).toBe(3)
  })
})
