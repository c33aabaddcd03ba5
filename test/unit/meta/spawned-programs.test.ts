import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { scanSource, setupHostPackages, shellCommands, type Site } from '../../helpers/spawn-scan.js'

// Every external program that src/, test/ and scripts/ spawn must come from a Debian
// package that scripts/setup-host installs (CI runs only that), or be part of every
// Debian 12 system, or come with Node/npm. bench/ is left out: its peers are
// installed with SKIFF_BENCH_PEERS=1. A new spawn of an unlisted program fails here.
const ROOT = join(import.meta.dirname, '../../..')

/** program → its Debian 12 package (each checked with `dpkg -S $(command -v PROGRAM)`, 2026-12-01). */
const PACKAGE_OF: Record<string, string> = {
  crun: 'crun', runc: 'runc', conmon: 'conmon', 'docker-registry': 'docker-registry', skopeo: 'skopeo',
  busybox: 'busybox-static', '/bin/busybox': 'busybox-static',
  pigz: 'pigz', zstd: 'zstd', strace: 'strace', python3: 'python3', openssl: 'openssl',
  setfattr: 'attr', getfattr: 'attr', setcap: 'libcap2-bin', getcap: 'libcap2-bin',
  pkill: 'procps', ps: 'procps', modprobe: 'kmod',
  mount: 'mount', umount: 'mount', script: 'bsdutils',
  'mkfs.btrfs': 'btrfs-progs', btrfs: 'btrfs-progs', losetup: 'mount',
  fallocate: 'util-linux', setsid: 'util-linux', mountpoint: 'util-linux', nsenter: 'util-linux', unshare: 'util-linux',
  ip: 'iproute2', iptables: 'iptables', 'iptables-save': 'iptables', curl: 'curl',
  sh: 'dash', '/bin/sh': 'dash', bash: 'bash', tar: 'tar', sed: 'sed', grep: 'grep', awk: 'mawk',
  find: 'findutils', xargs: 'findutils', 'dpkg-query': 'dpkg', 'apt-get': 'apt',
  ...Object.fromEntries(
    ['sync', 'dd', 'truncate', 'mknod', 'true', '/bin/true', 'chroot', 'wc', 'sleep', 'mkdir', 'cp', 'chmod', 'ln', 'chown', 'mkfifo', 'seq', 'touch', 'sort',
      'sha256sum', 'uniq', 'cat', 'tr', 'tee', 'dirname', 'tail', 'mktemp', 'install', 'rm', 'stat'].map((p) => [p, 'coreutils']),
  ),
}

/** On every Debian 12 system: the Essential and Priority: required packages (debootstrap's minbase). */
const ALWAYS_THERE = new Set(['apt', 'base-files', 'bash', 'bsdutils', 'coreutils', 'dash', 'debianutils', 'diffutils', 'dpkg', 'findutils', 'grep', 'gzip',
  'hostname', 'login', 'mawk', 'mount', 'ncurses-bin', 'perl-base', 'sed', 'sysvinit-utils', 'tar', 'util-linux'])

/** Node itself and what npm installs (package.json), not Debian's business. */
const FROM_NODE = new Set(['node', 'npm', 'npx', 'tsx'])

/** Spawns whose argv[0] is computed: where, and what it can be. 'wrapper': the function
 *  passes its caller's argv on (the callers are scanned instead). */
const COMPUTED: { file: string; expr: string; runs: string[] | 'wrapper'; why: string }[] = [
  { file: 'src/lib/exec.ts', expr: 'cmd', runs: 'wrapper', why: 'exec(argv)' },
  { file: 'src/lib/exec-stream.ts', expr: 'cmd', runs: 'wrapper', why: 'execFilter(argv)' },
  { file: 'src/lib/spawn-detached.ts', expr: 'file', runs: 'wrapper', why: 'spawnDetached(file)' },
  { file: 'src/images/unpack/apply.ts', expr: 'argv', runs: ['mknod'], why: 'makeNode builds mknod\'s argv' },
  { file: 'src/runtime/driver.ts', expr: '[this.path', runs: ['crun', 'runc'], why: 'the OCI runtime (runsc is the user\'s own install)' },
  { file: 'src/runtime/monitor.ts', expr: 'p.conmon', runs: ['conmon'], why: 'conmon, found by doctor' },
  { file: 'src/runtime/exec.ts', expr: 'd.cli.path', runs: ['crun', 'runc'], why: 'the OCI runtime\'s exec' },
  { file: 'test/contract/runtime-driver.contract.ts', expr: 'name', runs: ['crun', 'runc'], why: 'the contract runs per runtime' },
  { file: 'test/helpers/daemon.ts', expr: 'runtime', runs: ['crun', 'runc'], why: 'killContainers deletes leftovers with either runtime' },
  { file: 'test/integration/runtime/runtime-binary.test.ts', expr: 'a.path', runs: ['crun'], why: 'the runtime binary, cloned or installed' },
  { file: 'test/integration/lib/native.test.ts', expr: '/bin/sh -c script', runs: ['ps', 'tr', 'grep'], why: 'the script of the first spawnDetached test' },
  { file: 'test/integration/lib/native.test.ts', expr: "join(dir, 'no-such-program')", runs: [], why: 'a program that must not exist' },
  { file: 'scripts/make-busybox-rootfs', expr: '$bb', runs: ['busybox'], why: 'bb=$(command -v busybox)' },
]

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

function scanTree(): Site[] {
  const sites: Site[] = []
  for (const f of [...walk(join(ROOT, 'src')), ...walk(join(ROOT, 'test')), ...walk(join(ROOT, 'scripts'))]) {
    const rel = relative(ROOT, f)
    if (rel === 'test/unit/meta/spawned-programs.test.ts') continue // its fixtures are spawns on purpose
    const text = readFileSync(f, 'utf8')
    if (/\.(ts|mts|mjs|js)$/.test(f)) sites.push(...scanSource(rel, text))
    else if (rel.startsWith('scripts/') && /^#!.*\b(ba)?sh\b/.test(text)) {
      for (const cmd of shellCommands(text)) sites.push({ file: rel, line: 0, ...(cmd.includes('$') ? { expr: cmd } : { program: cmd }) })
    }
  }
  return sites
}

/** Problems, one line each: a program no package gives, a package setup-host lacks, an unlisted computed spawn. */
function check(sites: Site[], pkgs: readonly string[]): string[] {
  const problems: string[] = []
  const installed = new Set(pkgs)
  for (const s of sites) {
    const where = `${s.file}${s.line ? `:${s.line}` : ''}`
    let programs: string[]
    if (s.program !== undefined) programs = [s.program]
    else if (s.expr === 'process.execPath') programs = ['node']
    else {
      const known = COMPUTED.find((c) => c.file === s.file && c.expr === s.expr)
      if (!known) {
        problems.push(`${where}: spawns a computed program (${s.expr}): add it to COMPUTED with what it can run`)
        continue
      }
      programs = known.runs === 'wrapper' ? [] : known.runs
    }
    for (const p of programs) {
      if (FROM_NODE.has(p)) continue
      const pkg = PACKAGE_OF[p]
      if (!pkg) problems.push(`${where}: spawns ${p}, which no package in PACKAGE_OF provides (find it: dpkg -S "$(command -v ${p})")`)
      else if (!ALWAYS_THERE.has(pkg) && !installed.has(pkg)) problems.push(`${where}: spawns ${p} from Debian's ${pkg}, which scripts/setup-host does not install`)
    }
  }
  return [...new Set(problems)]
}

describe('every program the project spawns is installed by scripts/setup-host', () => {
  const pkgs = setupHostPackages(readFileSync(join(ROOT, 'scripts/setup-host'), 'utf8'))
  const sites = scanTree()

  it('finds the spawns (the scan itself works)', () => {
    const programs = new Set(sites.map((s) => s.program))
    for (const p of ['crun', 'conmon', 'skopeo', 'zstd', 'docker-registry', 'mknod', 'tar', 'setcap', 'apt-get']) expect(programs, p).toContain(p)
    expect(pkgs).toContain('crun')
    expect(pkgs).not.toContain('podman') // the bench's peers are not the tests' business
  })

  it('maps each to a package that setup-host installs (or that every Debian has)', () => {
    expect(check(sites, pkgs)).toEqual([])
  })

  it('every COMPUTED entry still matches a spawn (no stale allowances)', () => {
    const stale = COMPUTED.filter((c) => !sites.some((s) => s.file === c.file && s.expr === c.expr))
    expect(stale.map((c) => `${c.file}: ${c.expr}`)).toEqual([])
  })

  it.each([
    ['a spawn of a program no package provides', "import { spawn } from 'node:child_process'\nspawn('cowsay', ['moo'])", /no package in PACKAGE_OF provides/],
    ['a package setup-host lacks', "import { execFileSync } from 'node:child_process'\nexecFileSync('strace', ['-f', 'true'])", /strace, which scripts\/setup-host does not install/],
    ['a command inside a shell script', "import { exec } from '../lib/exec.js'\nawait exec(['sh', '-c', `cd ${d} && cowsay hi | tee x`])", /spawns cowsay,/],
    ['a shell wrapper\'s script', "import { exec } from '../lib/exec.js'\nconst sh = (s: string) => exec(['bash', '-c', s])\nawait sh(`tar -cf x . && cowsay`)", /spawns cowsay/],
    ['a computed program', "import { spawnSync } from 'node:child_process'\nconst p = pick()\nspawnSync(p, [])", /computed program \(p\)/],
  ])('fails on %s', (_name, source, problem) => {
    const pkgsWithoutStrace = pkgs.filter((p) => p !== 'strace')
    expect(check(scanSource('src/x.ts', source), pkgsWithoutStrace)).toEqual([expect.stringMatching(problem)])
  })

  it('reads shell scripts as commands, not as words', () => {
    expect(shellCommands(`set -e\nlog() { printf '%s' "$*" >&2; }\nX=1 setsid node a.js >/dev/null 2>&1 &\nfor i in $(seq 3); do [[ -e $f || -L $f ]] && log "x $(dirname "$f")"; done\nPKGS=(crun runc)\nmkdir -p "$r"/{etc,tmp}\nif ((\${#PKGS[@]})); then apt-get install -y x; fi`))
      .toEqual(['setsid', 'node', 'seq', 'dirname', 'mkdir', 'apt-get'])
  })
})
