import { describe, expect, it } from 'vitest'
import { CappedOutput, EXEC_BUFFER_CAP, Relay, relayPaced } from '../../../src/runtime/exec-output.js'

describe('CappedOutput', () => {
  it('keeps every chunk under the cap, not truncated', () => {
    const o = new CappedOutput()
    o.push(Buffer.from('a\n'))
    o.push(Buffer.alloc(0))
    o.push(Buffer.from('b\n'))
    expect({ text: o.text(), truncated: o.truncated }).toEqual({ text: 'a\nb\n', truncated: false })
  })
  it('cuts the chunk that crosses the cap, drops the ones after it, and says so', () => {
    const o = new CappedOutput()
    o.push(Buffer.alloc(EXEC_BUFFER_CAP - 1, 'x'))
    o.push(Buffer.from('yz'))
    o.push(Buffer.from('more'))
    const t = o.text()
    expect(t).toHaveLength(EXEC_BUFFER_CAP)
    expect(t.endsWith('xy')).toBe(true)
    expect(o.truncated).toBe(true)
  })
})

describe('relayPaced', () => {
  it('pauses the source while the consumer is behind and resumes it once caught up', async () => {
    const calls: string[] = []
    let release!: () => void
    const relay = new Relay(() => new Promise<void>((r) => (release = r)))
    const src = { pause: () => calls.push('pause'), resume: () => calls.push('resume') }
    relayPaced(relay, 'stdout', Buffer.from('hello\n'), src)
    expect(calls).toEqual(['pause'])
    release()
    await new Promise((r) => setImmediate(r))
    expect(calls).toEqual(['pause', 'resume'])
  })
  it('leaves the source alone for a consumer that keeps up', () => {
    const calls: string[] = []
    const relay = new Relay(() => {})
    relayPaced(relay, 'stderr', Buffer.from('x'), { pause: () => calls.push('pause'), resume: () => calls.push('resume') })
    expect(calls).toEqual([])
  })
})
