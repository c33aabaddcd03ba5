import { describe, expect, it } from 'vitest'
import { nextLimit, psQuery } from '../../../src/cli/ps-query.js'
import { commandColumn, shellJoin } from '../../../src/cli/render.js'

const qs = (f: Parameters<typeof psQuery>[0]) => {
  const q = psQuery(f)
  return { params: q.params.toString(), max: q.max }
}

describe('skiff ps: what it asks GET /jobs for', () => {
  it.each([
    [{}, 'state=queued%2Cpulling%2Cstarting%2Crunning%2Cbackoff', undefined],
    [{ all: true }, '', undefined],
    // a status filter implies every state, with or without -a
    [{ filter: ['status=exited'] }, 'state=exited', undefined],
    [{ all: true, filter: ['status=exited'] }, 'state=exited', undefined],
    [{ filter: ['status=exited', 'status=killed'] }, 'state=exited%2Ckilled', undefined],
    [{ filter: ['status=created,restarting'] }, 'state=queued%2Cbackoff', undefined],
    [{ all: true, filter: ['name=web', 'label=a=b=c', 'label=x=1'] }, 'label=a%3Db%3Dc&label=x%3D1&name=web', undefined],
    [{ filter: ['name=web'] }, 'state=queued%2Cpulling%2Cstarting%2Crunning%2Cbackoff&name=web', undefined],
    // -n / -l: the newest jobs in any state
    [{ last: '5' }, '', 5],
    [{ last: '-1' }, 'state=queued%2Cpulling%2Cstarting%2Crunning%2Cbackoff', undefined],
    [{ latest: true }, '', 1],
    [{ latest: true, filter: ['status=running'] }, 'state=running', 1],
  ])('%o → %s (max %s)', (f, params, max) => {
    const got = qs(f)
    expect(new URLSearchParams(got.params).toString()).toBe(new URLSearchParams(params).toString())
    expect(got.max).toBe(max)
  })

  it.each([
    [{ filter: ['status'] }, /-f\/--filter: status= needs a value/],
    [{ filter: ['ancestor=busybox'] }, /-f\/--filter: unknown filter "ancestor"/],
    [{ filter: ['name=a', 'name=b'] }, /one name=/],
    [{ last: 'ten' }, /-n\/--last: expected a number/],
  ])('%o is refused naming the flag', (f, re) => expect(() => psQuery(f)).toThrow(re))

  it('pages: the rest of -n, or the daemon\'s default page', () => {
    expect(nextLimit(undefined, 300)).toBeUndefined()
    expect(nextLimit(1500, 0)).toBe(1000)
    expect(nextLimit(1500, 1000)).toBe(500)
  })
})

describe('ps COMMAND column, as docker writes it', () => {
  it.each([
    [['true'], '"true"'],
    [['sh', '-c', 'echo hello from skiff'], `"sh -c 'echo hello f…"`],
    [['sleep', '30'], '"sleep 30"'],
    [['echo', 'exactly twenty ch'], `"echo 'exactly twent…"`],
    [['echo', 'say "hi"'], `"echo 'say \\"hi\\"'"`],
    [[], '""'],
  ])('%o → %s', (argv, want) => expect(commandColumn(argv)).toBe(want))

  it('--no-trunc keeps all of it', () => expect(commandColumn(['sh', '-c', 'echo hello from skiff'], false)).toBe(`"sh -c 'echo hello from skiff'"`))
  it('quotes what a shell would split', () => expect(shellJoin(['a b', "it's", '', 'x=1'])).toBe(`'a b' 'it'\\''s' '' x=1`))
})
