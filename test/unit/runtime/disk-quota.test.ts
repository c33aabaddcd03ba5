import { describe, expect, it } from 'vitest'
import { diskSupport, mountOf } from '../../../src/runtime/disk-quota.js'
import { limitsProblem } from '../../../src/runtime/host-limits.js'

const host = { cpus: 2, memoryBytes: 4 * 2 ** 30, stackSoftLimit: 8 * 2 ** 20 }

describe('diskSupport', () => {
  it.each([
    [{ fsType: 'ext4', source: '/dev/vda', mountPoint: '/', native: true }, false, /^the data dir's filesystem \(ext4 on \/dev\/vda\) cannot limit a job's disk; .*mkfs\.btrfs.*btrfs quota enable/],
    [{ fsType: 'tmpfs', source: 'tmpfs', mountPoint: '/tmp', native: true }, false, /\(tmpfs on tmpfs\) cannot limit/],
    [{ fsType: 'btrfs', source: '/dev/loop0', mountPoint: '/srv', qgroups: false, native: true }, false, /\(btrfs on \/dev\/loop0, quotas not enabled\) cannot limit a job's disk; enable them with `btrfs quota enable \/srv`/],
    [{ fsType: 'btrfs', source: '/dev/loop0', mountPoint: '/srv', qgroups: true, native: false }, false, /native addon/],
    [{ fsType: 'btrfs', source: '/dev/loop0', mountPoint: '/srv', qgroups: true, native: true }, true, undefined],
  ])('%o → available %s', (facts, available, reason) => {
    const s = diskSupport(facts)
    expect(s.available).toBe(available)
    if (!s.available) expect(s.reason).toMatch(reason!)
    else expect(s.mount).toBe('/srv')
  })
})

describe('mountOf', () => {
  const info = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '30 22 0:25 / /tmp rw shared:2 - tmpfs tmpfs rw',
    '40 30 0:40 / /tmp/a\\040b rw shared:3 - btrfs /dev/loop0 rw,space_cache=v2',
    '41 30 0:41 / /tmp/a\\040b rw shared:4 - tmpfs over rw',
  ].join('\n')
  it.each([
    ['/var/lib/skiff', { mountPoint: '/', source: '/dev/vda' }],
    ['/tmp/x', { mountPoint: '/tmp', source: 'tmpfs' }],
    ['/tmp/a bc', { mountPoint: '/tmp', source: 'tmpfs' }],
    // the last mount on a point is the one on top
    ['/tmp/a b/data', { mountPoint: '/tmp/a b', source: 'over' }],
  ])('%s', (path, want) => expect(mountOf(info, path)).toEqual(want))
})

describe('limitsProblem: limits.disk', () => {
  it('needs the host to support it, and at least 1m', () => {
    expect(limitsProblem({ diskBytes: 2 ** 30 }, { ...host, disk: { available: true, mount: '/srv' } })).toBeUndefined()
    expect(limitsProblem({ diskBytes: 2 ** 19 }, { ...host, disk: { available: true, mount: '/srv' } })).toMatchObject({ extra: { field: 'limits.disk' }, message: 'limits.disk: must be at least 1m' })
    expect(limitsProblem({ diskBytes: 2 ** 30 }, { ...host, disk: { available: false, reason: 'why' } })).toMatchObject({ code: 'DISK_LIMIT_UNAVAILABLE', message: 'limits.disk: why', extra: { field: 'limits.disk' } })
    expect(limitsProblem({ diskBytes: 2 ** 30 }, host)).toMatchObject({ code: 'DISK_LIMIT_UNAVAILABLE' })
    expect(limitsProblem({}, host)).toBeUndefined()
  })
})
