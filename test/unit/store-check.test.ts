import { describe, expect, it } from 'vitest'
import { evaluateStore, type StoreFacts } from '../../src/store-check.js'

const D = '/var/lib/skiff'
const facts = (o: Partial<StoreFacts> = {}): StoreFacts => ({
  jobs: new Map([['A', 'running'], ['B', 'exited']]), integrity: 'ok', containerDirs: ['A.1'], mounts: [`${D}/runtime/containers/A.1/merged`],
  cgroups: ['A.1'], conmons: ['A.1'], partialBlobs: [], partialSnapshots: [], ...o,
})
const failing = (f: StoreFacts) => evaluateStore(f, D).filter((x) => !x.ok).map((x) => x.check)

describe('evaluateStore (skiff doctor --store)', () => {
  it('a running job with its mount, cgroup, monitor and dir is consistent', () => {
    expect(failing(facts())).toEqual([])
  })
  it.each([
    ['a mount of a settled job', { mounts: [`${D}/runtime/containers/B.1/merged`] }, 'store mounts'],
    ['a mount of a job the database does not know', { mounts: [`${D}/runtime/containers/Z.1/merged`] }, 'store mounts'],
    ['a mount elsewhere in the data dir', { mounts: [`${D}/images/x`] }, 'store mounts'],
    ['a cgroup of a settled job', { cgroups: ['A.1', 'B.2'] }, 'store cgroups'],
    ['a conmon of a settled job', { conmons: ['A.1', 'B.1'] }, 'store conmon'],
    ['a container dir of a settled job with no monitor', { containerDirs: ['A.1', 'B.1'] }, 'store containers'],
    ['a half-written blob', { partialBlobs: ['abc-123'] }, 'store blobs'],
    ['a half-unpacked snapshot', { partialSnapshots: ['tmp1'] }, 'store snapshots'],
    ['a job recorded running with no monitor', { conmons: [] }, 'store jobs'],
    ['a database failing integrity_check', { integrity: '*** in database main ***' }, 'store database'],
  ])('finds %s', (_what, o, check) => {
    expect(failing(facts(o as Partial<StoreFacts>))).toContain(check)
  })
})
