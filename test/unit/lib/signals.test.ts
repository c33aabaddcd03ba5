import { describe, expect, it } from 'vitest'
import { parseSignal } from '../../../src/lib/signals.js'

describe('parseSignal', () => {
  it.each([
    ['SIGTERM', 'SIGTERM', 15],
    ['TERM', 'SIGTERM', 15],
    ['term', 'SIGTERM', 15],
    ['15', 'SIGTERM', 15],
    [9, 'SIGKILL', 9],
    ['SIGIOT', 'SIGABRT', 6],
    ['HUP', 'SIGHUP', 1],
    ['RTMIN', 'SIGRTMIN', 34],
    ['SIGRTMIN+2', 'SIGRTMIN+2', 36],
    ['RTMAX-1', 'SIGRTMAX-1', 63],
    [64, 'SIGRTMAX', 64],
    [40, 'SIGRTMIN+6', 40],
  ])('%j → %s (%d)', (input, name, number) => expect(parseSignal(input)).toEqual({ name, number }))

  it.each([['SIGFOO'], ['99'], [99], [0], ['0'], [32], ['-1'], ['RTMIN+31'], ['RTMAX+1'], [''], ['SIG'], [1.5]])('%j is a 400 naming signal', (input) => {
    expect(() => parseSignal(input)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', extra: { field: 'signal' } }))
  })
})
