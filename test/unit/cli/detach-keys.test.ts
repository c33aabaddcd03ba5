import { describe, expect, it } from 'vitest'
import { scanDetach } from '../../../src/cli/detach-keys.js'

const b = (...x: number[]) => Buffer.from(x)

describe('Ctrl-P Ctrl-Q', () => {
  it.each([
    ['plain input', b(0x61, 0x62), false, { forward: b(0x61, 0x62), detach: false, pending: false }],
    ['the sequence', b(0x61, 0x10, 0x11, 0x62), false, { forward: b(0x61), detach: true, pending: false }],
    ['Ctrl-P then something else: both pass', b(0x10, 0x61), false, { forward: b(0x10, 0x61), detach: false, pending: false }],
    ['Ctrl-P Ctrl-P Ctrl-Q', b(0x10, 0x10, 0x11), false, { forward: b(0x10), detach: true, pending: false }],
    ['Ctrl-P at the end is held', b(0x61, 0x10), false, { forward: b(0x61), detach: false, pending: true }],
    ['…and the next chunk\'s Ctrl-Q detaches', b(0x11), true, { forward: b(), detach: true, pending: false }],
    ['…or its other byte releases it', b(0x62), true, { forward: b(0x10, 0x62), detach: false, pending: false }],
    ['Ctrl-Q alone passes', b(0x11), false, { forward: b(0x11), detach: false, pending: false }],
  ])('%s', (_name, chunk, pending, want) => {
    expect(scanDetach(chunk, pending)).toEqual(want)
  })
})
