import { unknownUser } from './errors.js'

export interface ResolvedUser {
  uid: number
  gid: number
  additionalGids: number[]
  home: string
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':')
    if (f.length < 7 || l.startsWith('#')) return []
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }]
  })
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((l) => {
    const f = l.split(':')
    if (f.length < 4 || l.startsWith('#')) return []
    return [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) }]
  })
}

const isNum = (s: string) => /^\d+$/.test(s)
const unknown = unknownUser

/** Resolve docker's user forms ("name", "uid", "uid:gid", "name:group", "") against
 *  the image's /etc/passwd and /etc/group contents (either may be absent). */
export function resolveUser(spec: string | undefined, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const users = parsePasswd(passwd ?? '')
  const groups = parseGroup(group ?? '')
  const [u = '', g] = (spec ?? '').split(':', 2)
  let uid = 0
  let gid = 0
  let home = '/'
  let name: string | undefined
  if (u === '' || u === 'root') {
    const root = users.find((x) => x.uid === 0)
    home = root?.home ?? '/root'
    name = 'root'
  } else if (isNum(u)) {
    uid = Number(u)
    const e = users.find((x) => x.uid === uid)
    // like runc's GetExecUser: a uid missing from /etc/passwd keeps gid 0
    gid = e?.gid ?? 0
    home = e?.home ?? '/'
    name = e?.name
  } else {
    const e = users.find((x) => x.name === u)
    if (!e) throw unknown('user', u)
    uid = e.uid
    gid = e.gid
    home = e.home
    name = e.name
  }
  if (g !== undefined && g !== '') {
    if (isNum(g)) gid = Number(g)
    else {
      const e = groups.find((x) => x.name === g)
      if (!e) throw unknown('group', g)
      gid = e.gid
    }
  }
  const additionalGids = name ? groups.filter((x) => x.members.includes(name!) && x.gid !== gid).map((x) => x.gid) : []
  return { uid, gid, additionalGids, home }
}
