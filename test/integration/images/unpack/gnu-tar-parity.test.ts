import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decompress } from '../../../../src/images/decompress.js'
import { Snapshotter } from '../../../../src/images/snapshotter.js'
import { exec } from '../../../../src/lib/exec.js'
import { chunked, sha256 } from './helpers.js'

// Parity with GNU tar on a real tree: the same PAX archive (written by GNU tar with
// xattrs, incl. a binary security.capability) extracted by `tar -xp --xattrs` and by
// the Snapshotter must give identical listings of type, mode, owner, size, mtime,
// link target, hardlink groups, content and xattrs.

let work: string
let src: string
let tarPath: string

const sh = (script: string) => exec(['bash', '-euo', 'pipefail', '-c', script])

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'skiff-parity-'))
  src = join(work, 'src')
  tarPath = join(work, 'layer.tar')
  await sh(`
    mkdir -p ${src}/usr/share ${src}/bin ${src}/tmp ${src}/home/u ${src}/dev
    cp -a /usr/share/zoneinfo ${src}/usr/share/
    printf '#!/bin/sh\\n' > ${src}/bin/ping && chmod 4755 ${src}/bin/ping
    setcap cap_net_raw+ep ${src}/bin/ping
    printf data > ${src}/bin/tool && ln ${src}/bin/tool ${src}/bin/tool-hard && ln -s tool ${src}/bin/tool-sym
    setfattr -n user.skiff -v "hello world" ${src}/bin/tool
    chmod 1777 ${src}/tmp && chmod 2750 ${src}/home
    printf mine > ${src}/home/u/f && chown -R 1234:4321 ${src}/home/u && chmod 600 ${src}/home/u/f
    mkfifo -m 640 ${src}/home/fifo && mknod -m 660 ${src}/dev/tty0 c 4 0 && mknod -m 600 ${src}/dev/sda b 8 0
    d=${src}/$(printf 'long-directory-name-%.0s' 1 2 3 4 5 6)/$(printf 'x%.0s' $(seq 1 120)) && mkdir -p "$d" && printf deep > "$d/file-ü-名前"
    # sub-second mtimes a double carries exactly to the microsecond (creation-time
    # nanoseconds would round either way: see the README on utimes precision)
    find ${src} -exec touch -h -d '2024-01-02 03:04:05.250000Z' {} +
    touch -h -d '2001-02-03 04:05:06Z' ${src}/bin/tool-sym
    touch -d '1999-12-31 23:59:59Z' ${src}/bin ${src}/home
    tar --format=pax --xattrs --xattrs-include='*' --numeric-owner -C ${src} -cf ${tarPath} .
  `)
})
afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

/** One line per entry: mtime path type mode uid gid size target; content hashes; xattrs; hardlink group sizes. */
async function listing(root: string): Promise<string> {
  const { stdout } = await sh(`
    cd ${root}
    # mtimes compared to the microsecond: Node's utimes takes a double (see README)
    find . -mindepth 1 -printf '%T@ %p %y %#m %U %G %s %l\\n' | sed -E 's/^([0-9]+\\.[0-9]{6})[0-9]*/\\1/' | sort -k2
    find . -type f -print0 | sort -z | xargs -0 sha256sum
    getfattr -R -h -d -m - --absolute-names . 2>/dev/null | grep -v '^$' || true
    find . -type f -links +1 -printf '%i %p\\n' | sort | awk '{print $1}' | uniq -c | awk '{print $1}'
  `)
  return stdout
}

describe('Snapshotter vs GNU tar on a real tree', () => {
  it('extracts a PAX archive from GNU tar identically (modes, owners, mtimes, links, devices, caps, xattrs)', async () => {
    const gnu = join(work, 'gnu')
    await sh(`mkdir ${gnu} && tar --xattrs --xattrs-include='*' --same-owner --numeric-owner -xpf ${tarPath} -C ${gnu}`)
    const bytes = await readFile(tarPath)
    const s = new Snapshotter({ root: join(work, 'snaps') })
    const r = await s.unpack(sha256(bytes), decompress(chunked(bytes, 100_000), 'none'))
    const [want, got] = [await listing(gnu), await listing(r.path)]
    expect(want).toContain('security.capability=')
    expect(want).toContain('user.skiff="hello world"')
    expect(want.split('\n').length).toBeGreaterThan(1300)
    expect(got).toBe(want)
    const { stdout } = await exec(['getcap', join(r.path, 'bin/ping')])
    expect(stdout).toContain('cap_net_raw=ep')
  })
})
