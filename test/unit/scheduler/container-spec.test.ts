import { describe, expect, it } from 'vitest'
import { containerSpec, DEFAULT_PATH, mergeEnv, resolveArgs, type ContainerSpecInput } from '../../../src/scheduler/container-spec.js'
import type { RunSpec } from '../../../src/scheduler/index.js'

const run = (o: Partial<RunSpec> = {}): RunSpec => ({ image: 'x', env: {}, labels: {}, limits: {}, network: { mode: 'none' }, pull: 'missing', ...o })
const input = (spec: Partial<RunSpec> = {}, config: ContainerSpecInput['image']['config'] = { Cmd: ['sh'] }, o: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  containerId: '01JOBIDABCDEFGHIJKLMNOPQRS.1', job: { id: '01JOBIDABCDEFGHIJKLMNOPQRS', spec: run(spec) }, image: { config }, lowerDirs: ['/l2', '/l1'], logPath: '/logs/j', ...o,
})

describe('docker Entrypoint/Cmd', () => {
  it.each([
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, {}, ['/ep', 'a']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { cmd: ['b'] }, ['/ep', 'b']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { entrypoint: ['/x'] }, ['/x']],
    [{ Entrypoint: ['/ep'], Cmd: ['a'] }, { entrypoint: [] }, 'NO_COMMAND'],
    [{ Cmd: ['a'] }, { entrypoint: ['/x'], cmd: ['y'] }, ['/x', 'y']],
    [{ Cmd: ['sh'] }, {}, ['sh']],
    [{}, { cmd: ['echo', 'hi'] }, ['echo', 'hi']],
  ] as const)('image %j + request %j → %j', (image, req, want) => {
    if (want === 'NO_COMMAND') return expect(() => resolveArgs(image as never, req as never)).toThrow(expect.objectContaining({ code: want }))
    expect(resolveArgs(image as never, req as never)).toEqual(want)
  })
  it('refuses to run nothing, naming the field', () => {
    expect(() => resolveArgs({}, {})).toThrow(expect.objectContaining({ code: 'NO_COMMAND', extra: { field: 'cmd' } }))
  })
})

describe('env', () => {
  it('request env wins over image env; PATH and HOSTNAME are defaulted and can be overridden', () => {
    expect(mergeEnv(['A=1', 'B=2'], { B: '3' }, { hostname: 'h' })).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'A=1', 'B=3'])
    expect(mergeEnv(['PATH=/bin', 'X=a=b', 'junk'], { HOSTNAME: 'mine' }, { hostname: 'h' })).toEqual(['PATH=/bin', 'HOSTNAME=mine', 'X=a=b'])
  })
})

describe('containerSpec', () => {
  it('resolves the process, hostname and rootfs once, with no image record in the result', () => {
    const s = containerSpec(input({ cmd: ['echo', 'hi'], env: { A: '1' }, user: 'nobody', workdir: '/w', readonlyRootfs: true }, { Entrypoint: ['/ep'], Env: ['B=2'], WorkingDir: '/img', User: 'app' }))
    expect(s).toEqual({
      id: '01JOBIDABCDEFGHIJKLMNOPQRS.1',
      rootfs: { lowerDirs: ['/l2', '/l1'], readonly: true },
      process: { args: ['/ep', 'echo', 'hi'], env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=hijklmnopqrs', 'B=2', 'A=1'], cwd: '/w', user: 'nobody' },
      hostname: 'hijklmnopqrs',
      limits: {},
      network: { mode: 'none' },
      mounts: [],
      logPath: '/logs/j',
    })
  })
  it.each([
    [{}, { Cmd: ['sh'] }, { cwd: '/' }],
    [{}, { Cmd: ['sh'], WorkingDir: '/srv', User: '1000:1000' }, { cwd: '/srv', user: '1000:1000' }],
    [{}, { Cmd: ['sh'], WorkingDir: '', User: '' }, { cwd: '/' }],
    [{ stdin: 'data' }, { Cmd: ['cat'] }, { stdin: Buffer.from('data') }],
    [{ stdin: 'first', interactive: true }, { Cmd: ['cat'] }, { openStdin: true }],
  ] as const)('request %j on image %j → process %j', (req, config, want) => {
    const p = containerSpec(input(req as Partial<RunSpec>, config as never)).process
    expect(p).toMatchObject(want)
    if (!('user' in want)) expect(p.user).toBeUndefined()
    if (!('stdin' in want)) expect(p.stdin).toBeUndefined()
  })
  it('the hostname is the job\'s (shared by its attempts) unless the request names one; a layer dir is passed through', () => {
    const a = containerSpec(input({}, { Cmd: ['sh'] }, { containerId: '01JOBIDABCDEFGHIJKLMNOPQRS.2', layerDir: '/layers/j' }))
    expect(a.hostname).toBe('hijklmnopqrs')
    expect(a.rootfs.layerDir).toBe('/layers/j')
    expect(containerSpec(input({ hostname: 'web' })).hostname).toBe('web')
    // the job's name is one more name of it in /etc/hosts (unless it is the hostname)
    expect(containerSpec(input({ name: 'api' })).aliases).toEqual(['api'])
    expect(containerSpec(input({ name: 'Web', hostname: 'web' })).aliases).toBeUndefined()
    expect(containerSpec(input({ network: { mode: 'host' } })).network).toEqual({ mode: 'host' })
  })
})
