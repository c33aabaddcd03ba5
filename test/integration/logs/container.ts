// A minimal real container for log tests: a busybox rootfs + `crun spec` bundle,
// run by conmon with `-l k8s-file:<logPath>` exactly as the runtime layer does.
// (The runtime layer is written in parallel; this helper deliberately does not import it.)
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const APPLETS = ['sh', 'cat', 'dd', 'head', 'sha256sum', 'seq', 'echo', 'printf', 'sleep', 'yes', 'tr', 'tee', 'true', 'usleep', 'wc']

export interface Bundle {
  dir: string
  rootfs: string
  /** Write a file into the rootfs before the container starts. */
  put(path: string, data: Uint8Array | string): void
  remove(): void
}

/** A bundle directory whose rootfs holds a static busybox and a few applet links. */
export function makeBundle(base?: string): Bundle {
  const dir = mkdtempSync(join(base ?? tmpdir(), 'skiff-logs-bundle-'))
  const rootfs = join(dir, 'rootfs')
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'data']) mkdirSync(join(rootfs, d), { recursive: true })
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'))
  chmodSync(join(rootfs, 'bin/busybox'), 0o755)
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a))
  execFileSync('crun', ['spec'], { cwd: dir })
  return {
    dir,
    rootfs,
    put(path, data) {
      writeFileSync(join(rootfs, path), data)
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface RunningContainer {
  id: string
  conmonPid: number
  /** Resolves with the exit code once conmon has written the exit file. */
  exited: Promise<number>
  kill(): void
  cleanup(): Promise<void>
}

let seq = 0

/** Start `args` in a fresh container of `bundle`, output going to `logPath` in
 *  conmon's k8s-file format. Mirrors the runtime layer's monitor launch. */
export async function runContainer(bundle: Bundle, args: string[], logPath: string): Promise<RunningContainer> {
  const id = `skiff-logs-${process.pid}-${Date.now().toString(36)}-${seq++}`
  const work = mkdtempSync(join(tmpdir(), 'skiff-logs-mon-'))
  const state = join(work, 'state')
  const exitDir = join(work, 'exit')
  const sockDir = join(work, 'sock')
  for (const d of [state, exitDir, sockDir]) mkdirSync(d, { recursive: true })
  const cfgPath = join(bundle.dir, 'config.json')
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'))
  cfg.process.terminal = false
  cfg.process.args = args
  cfg.root = { path: bundle.rootfs, readonly: false }
  cfg.hostname = 'logs'
  const bundleDir = join(work, 'bundle')
  mkdirSync(bundleDir)
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(cfg))

  const child = spawn(
    'conmon',
    ['--api-version', '1', '-c', id, '-u', id, '-r', '/usr/bin/crun', '-b', bundleDir, '-p', join(work, 'pid'), '-l', `k8s-file:${logPath}`,
      '--exit-dir', exitDir, '--socket-dir-path', sockDir, '--runtime-arg', `--root=${state}`, '--conmon-pidfile', join(work, 'conmon.pid'), '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], env: { ...process.env, _OCI_SYNCPIPE: '3' } },
  )
  let stderr = ''
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()))
  const sync = child.stdio[3] as NodeJS.ReadableStream
  let synced = ''
  // A create that fails or hangs must not leave its conmon and runtime behind:
  // nobody holds a handle to clean them up.
  const abandon = () => {
    // the runtime's `create` itself (it would outlive a killed conmon), then conmon
    spawnSync('pkill', ['-KILL', '-f', `--root=${state} create`])
    try {
      process.kill(Number(readFileSync(join(work, 'conmon.pid'), 'utf8')), 'SIGKILL')
    } catch {
      /* no conmon yet, or gone */
    }
    try {
      execFileSync('crun', [`--root=${state}`, 'delete', '-f', id], { stdio: 'ignore' })
    } catch {
      /* never created */
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`create did not finish in 30 s: ${stderr} ${synced}`)), 30_000)
      sync.on('data', (b: Buffer) => {
        synced += b.toString()
        if (/"(?:pid|data)"\s*:\s*-?\d+/.test(synced)) {
          clearTimeout(t)
          resolve()
        }
      })
      // conmon's first process exits as it daemonizes, long before `create` ends under
      // load: only the sync pipe closing without a message means failure.
      sync.on('end', () => {
        clearTimeout(t)
        reject(new Error(`conmon closed the sync pipe before create: ${stderr} ${synced}`))
      })
    })
  } catch (e) {
    abandon()
    throw e
  }
  const m = /"(?:pid|data)"\s*:\s*(-?\d+)/.exec(synced)!
  if (Number(m[1]) < 0) {
    abandon()
    throw new Error(`container create failed: ${synced} ${stderr}`)
  }
  const conmonPid = Number(readFileSync(join(work, 'conmon.pid'), 'utf8'))
  execFileSync('crun', [`--root=${state}`, 'start', id])
  const exitFile = join(exitDir, id)
  const exited = (async () => {
    for (;;) {
      if (existsSync(exitFile)) {
        const t = readFileSync(exitFile, 'utf8')
        if (t) return Number(t)
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  const kill = () => {
    try {
      execFileSync('crun', [`--root=${state}`, 'kill', id, 'KILL'], { stdio: 'ignore' })
    } catch {
      /* already gone */
    }
  }
  return {
    id,
    conmonPid,
    exited,
    kill,
    async cleanup() {
      kill()
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      try {
        execFileSync('crun', [`--root=${state}`, 'delete', '-f', id], { stdio: 'ignore' })
      } catch {
        /* deleted */
      }
      try {
        process.kill(conmonPid, 0)
        process.kill(conmonPid, 'SIGKILL')
      } catch {
        /* conmon gone */
      }
      rmSync(work, { recursive: true, force: true })
    },
  }
}
