import { describe, expect, it } from 'vitest'
import { execParams } from '../../../src/http/routes/exec-ws.js'

const host = { cpus: 2, memoryBytes: 4 * 2 ** 30, stackSoftLimit: 8 * 2 ** 20 }
const p = (q: string) => execParams(new URLSearchParams(q), host)

describe('GET /jobs/:id/exec/ws parameters', () => {
  it.each([
    ['cmd=sh', { cmd: ['sh'], opts: {}, stdin: false }],
    ['cmd=sh&cmd=-c&cmd=echo%20hi&stdin=true', { cmd: ['sh', '-c', 'echo hi'], opts: {}, stdin: true }],
    ['cmd=sh&tty=true', { cmd: ['sh'], opts: { tty: { rows: 24, cols: 80 } }, stdin: false }],
    ['cmd=sh&tty=true&rows=50&cols=132&stdin=true', { cmd: ['sh'], opts: { tty: { rows: 50, cols: 132 } }, stdin: true }],
    ['cmd=id&user=nobody&workdir=/tmp&env=A=1&env=B=x%3Dy&timeout=10s', { cmd: ['id'], opts: { user: 'nobody', cwd: '/tmp', env: { A: '1', B: 'x=y' }, timeoutMs: 10_000 }, stdin: false }],
    ['cmd=true&ticket=abc', { cmd: ['true'], opts: {}, stdin: false }],
  ])('%s', (q, want) => expect(p(q)).toEqual(want))

  it.each([
    ['', 'cmd'], ['cmd=', 'cmd'], ['cmd=sh&tty=1', 'tty'], ['cmd=sh&stdin=yes', 'stdin'], ['cmd=sh&tty=true&rows=0', 'rows'],
    ['cmd=sh&tty=true&cols=70000', 'cols'], ['cmd=sh&rows=10', 'rows'], ['cmd=sh&workdir=rel', 'workdir'], ['cmd=sh&env==1', 'env'],
    ['cmd=sh&timeout=0s', 'timeout'], ['cmd=sh&timeout=soon', 'timeout'], ['cmd=sh&shell=bash', 'shell'],
  ])('%s → 400 naming %s', (q, field) => {
    expect(() => p(q)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: expect.objectContaining({ field }) }))
  })

  it('an argument list too long for execve is refused before anything runs', () => {
    expect(() => p(`cmd=echo&cmd=${'x'.repeat(200 * 1024)}`)).toThrow(expect.objectContaining({ extra: expect.objectContaining({ field: expect.stringMatching(/^cmd/) }) }))
  })
})
