import { existsSync, lstatSync, readFileSync, realpathSync, statfsSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { SkiffError } from '../lib/errors.js'
import { nativeWith, type NativeSys } from '../lib/native.js'

// limits.disk: a job's writable layer (runtime `layerDir`) is a btrfs subvolume
// with a quota-group limit on the bytes it references. The kernel enforces it
// (the job's write gets EDQUOT) and keeps it on disk, so it holds while the
// daemon is down. Everything is an ioctl through the addon: no btrfs(8) fork on
// the start path. Why btrfs and not project quotas: README.md (limits.disk).

/** statfs f_type values (include/uapi/linux/magic.h) */
const FS_TYPES: Record<number, string> = {
  0x9123683e: 'btrfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlay',
  0x6969: 'nfs',
  0x2fc12fc1: 'zfs',
  0x65735546: 'fuse',
}
/** a btrfs subvolume's root directory always has this inode number */
const BTRFS_SUBVOL_INO = 256

export type DiskSupport = { available: true; mount: string } | { available: false; reason: string }

export interface DiskFacts {
  /** the filesystem's type, from statfs */
  fsType: string
  /** what is mounted (e.g. /dev/vda) and where, from mountinfo */
  source: string
  mountPoint: string
  /** btrfs only: quota groups are enabled (/sys/fs/btrfs/<fsid>/qgroups exists) */
  qgroups?: boolean
  /** the addon with the btrfs calls is built */
  native: boolean
}

/** Pure: whether a job's writable layer can be limited on this filesystem, else why not and how to make it so. */
export function diskSupport(f: DiskFacts): DiskSupport {
  const on = `${f.fsType} on ${f.source}`
  if (f.fsType !== 'btrfs')
    return { available: false, reason: `the data dir's filesystem (${on}) cannot limit a job's disk; skiff limits the writable layer with btrfs quota groups: put the data dir on btrfs (mkfs.btrfs), then \`btrfs quota enable ${f.mountPoint === '?' ? '<mount point>' : '<its mount point>'}\`` }
  if (!f.qgroups)
    return { available: false, reason: `the data dir's filesystem (${on}, quotas not enabled) cannot limit a job's disk; enable them with \`btrfs quota enable ${f.mountPoint}\`` }
  if (!f.native)
    return { available: false, reason: `the data dir's filesystem (${on}) has quotas, but skiff's native addon (native/, with btrfs-quota) is not built: npm rebuild, or node-gyp rebuild in native/` }
  return { available: true, mount: f.mountPoint }
}

/** Pure: the mount (longest mount point containing `path`) from /proc/self/mountinfo. */
export function mountOf(mountinfo: string, path: string): { mountPoint: string; source: string } | undefined {
  let best: { mountPoint: string; source: string } | undefined
  for (const line of mountinfo.split('\n')) {
    const parts = line.split(' ')
    const sep = parts.indexOf('-')
    if (sep < 0 || parts.length < sep + 3) continue
    const mp = unescapeMount(parts[4]!)
    const inside = mp === '/' || path === mp || path.startsWith(mp + '/')
    // a later line for the same point is a mount stacked on top: it wins
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = { mountPoint: mp, source: unescapeMount(parts[sep + 2]!) }
  }
  return best
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))

/** Side effects at the edge: the facts about the filesystem `dir` (or its nearest existing parent) is on. */
export function gatherDiskFacts(dir: string): DiskFacts {
  let p = dir
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p)
  const real = realpathSync(p)
  const type = statfsSync(real).type
  const fsType = FS_TYPES[type] ?? `fs type 0x${type.toString(16)}`
  let m: { mountPoint: string; source: string } | undefined
  try {
    m = mountOf(readFileSync('/proc/self/mountinfo', 'utf8'), real)
  } catch {
    /* keep unknown */
  }
  const sys = nativeWith('btrfs-quota')
  let qgroups: boolean | undefined
  if (fsType === 'btrfs' && sys?.btrfsInfo) {
    try {
      qgroups = existsSync(`/sys/fs/btrfs/${sys.btrfsInfo(real).fsid}/qgroups`)
    } catch {
      qgroups = false
    }
  }
  return { fsType, source: m?.source ?? '?', mountPoint: m?.mountPoint ?? '?', ...(qgroups !== undefined ? { qgroups } : {}), native: !!sys }
}

export function probeDiskSupport(dir: string): DiskSupport {
  try {
    return diskSupport(gatherDiskFacts(dir))
  } catch (e) {
    return { available: false, reason: `cannot tell whether the data dir's filesystem can limit a job's disk: ${(e as Error).message}` }
  }
}

export const diskLimitUnavailable = (reason: string) => new SkiffError('invalid_argument', 'DISK_LIMIT_UNAVAILABLE', `limits.disk: ${reason}`, { field: 'limits.disk' })

function quotaSys(): Required<Pick<NativeSys, 'subvolCreate' | 'subvolDelete' | 'qgroupLimit' | 'qgroupDestroy' | 'btrfsInfo'>> {
  const s = nativeWith('btrfs-quota')
  if (!s?.subvolCreate || !s.subvolDelete || !s.qgroupLimit || !s.qgroupDestroy || !s.btrfsInfo) throw diskLimitUnavailable('skiff\'s native addon (native/) with btrfs-quota is not built')
  return s as ReturnType<typeof quotaSys>
}

const isSubvolume = (dir: string) => {
  try {
    const st = lstatSync(dir)
    return st.isDirectory() && st.ino === BTRFS_SUBVOL_INO && FS_TYPES[statfsSync(dir).type] === 'btrfs'
  } catch {
    return false
  }
}

/** The writable layer `dir` as a subvolume referencing at most `bytes`:
 *  made if missing, the limit (re)set every time (a crash between the two leaves
 *  a subvolume without it; setting it again is one ioctl). */
export async function ensureLimitedLayer(dir: string, bytes: number): Promise<void> {
  const s = quotaSys()
  if (!existsSync(dir)) {
    try {
      await s.subvolCreate(dirname(dir), basename(dir))
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOTTY' || code === 'EOPNOTSUPP') {
        const support = probeDiskSupport(dir)
        throw diskLimitUnavailable(support.available ? (e as Error).message : support.reason)
      }
      if (code !== 'EEXIST') throw e
    }
  }
  else if (!isSubvolume(dir)) throw diskLimitUnavailable(`the writable layer ${dir} exists as a plain directory, not a btrfs subvolume: it cannot be limited`)
  try {
    await s.qgroupLimit(dir, bytes)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTCONN' || (e as NodeJS.ErrnoException).code === 'EINVAL') throw diskLimitUnavailable(`btrfs quotas are not enabled on the data dir's filesystem (${(e as Error).message}); run \`btrfs quota enable\` on its mount point`)
    throw e
  }
}

/** Remove a layer dir made by ensureLimitedLayer: its limit cleared, the subvolume
 *  deleted (the kernel frees its blocks in the background), its quota group
 *  destroyed where the kernel does not do that itself once the subvolume is gone.
 *  false: `dir` is no subvolume (the caller removes a plain dir). Idempotent. */
export async function removeLimitedLayer(dir: string): Promise<boolean> {
  if (!isSubvolume(dir)) return false
  const s = quotaSys()
  const { subvolId } = s.btrfsInfo(dir)
  await s.qgroupLimit(dir, null).catch(() => {})
  try {
    await s.subvolDelete(dirname(dir), basename(dir))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  // kernels since 6.x drop a deleted subvolume's qgroup with it; older ones answer EBUSY until the cleaner is done
  await s.qgroupDestroy(dirname(dir), subvolId).catch(() => {})
  return true
}
