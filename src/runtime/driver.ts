import { constants } from 'node:fs'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { exec, type ExecResult } from '../lib/exec.js'
import { parseSignal } from '../lib/signals.js'
import { runtimeFailed } from './errors.js'

export type RuntimeName = 'crun' | 'runc' | 'runsc'

// Per-runtime differences as data, not subclasses.
const RUNTIMES: Record<RuntimeName, { bin: string; candidates: string[] }> = {
  crun: { bin: 'crun', candidates: ['/usr/bin/crun', '/usr/local/bin/crun'] },
  runc: { bin: 'runc', candidates: ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/bin/runc', '/usr/local/sbin/runc'] },
  runsc: { bin: 'runsc', candidates: ['/usr/bin/runsc', '/usr/local/bin/runsc'] },
}

export interface OciState {
  id: string
  pid: number
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused'
  bundle: string
}

/** One OCI runtime CLI (crun/runc/runsc) with its state under `stateRoot`. */
export class OciCli {
  readonly path: string
  constructor(
    readonly name: RuntimeName,
    readonly stateRoot: string,
    existsFn: (p: string) => boolean,
  ) {
    this.path = RUNTIMES[name].candidates.find(existsFn) ?? RUNTIMES[name].bin
  }

  /** Arguments that go before the subcommand (also handed to conmon as --runtime-arg). */
  globalArgs(): string[] {
    return [`--root=${this.stateRoot}`]
  }

  private run(args: string[], opts: { allowFailure?: boolean; input?: string | Uint8Array; timeoutMs?: number } = {}): Promise<ExecResult> {
    return exec([this.path, ...this.globalArgs(), ...args], { errorCode: 'RUNTIME_FAILED', ...opts })
  }

  /** Start a created container. crun parks the container's init reading
   *  `<root>/<id>/exec.fifo`; `crun start` only writes a byte to it. Writing it
   *  ourselves saves forking the daemon on every job start. The non-blocking
   *  open fails (ENXIO) unless init is waiting, and then the CLI does it. */
  async start(id: string): Promise<void> {
    if (this.name === 'crun') {
      let fh: FileHandle | undefined
      try {
        fh = await open(join(this.stateRoot, id, 'exec.fifo'), constants.O_WRONLY | constants.O_NONBLOCK)
        const { bytesWritten } = await fh.write(Buffer.from('0'))
        // crun reports `created` for as long as the fifo exists; start removes it
        if (bytesWritten === 1) return await unlink(join(this.stateRoot, id, 'exec.fifo'))
      } catch (e) {
        // No fifo: crun removes it on start, so the container is already started
        // (e.g. by a daemon that died right after). Anything else: ask crun.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return
      } finally {
        await fh?.close()
      }
    }
    await this.run(['start', id], { timeoutMs: 30_000 })
  }

  async state(id: string): Promise<OciState | undefined> {
    const r = await this.run(['state', id], { allowFailure: true })
    if (r.code !== 0) return undefined
    return JSON.parse(r.stdout) as OciState
  }

  async kill(id: string, signal: string, opts: { all?: boolean } = {}): Promise<void> {
    // by number: every runtime takes one, not every runtime knows every name (SIGRTMIN+3)
    const sig = String(parseSignal(signal).number)
    const r = await this.run(['kill', ...(opts.all ? ['--all'] : []), id, sig], { allowFailure: true })
    // Already gone is fine: the exit is what callers wait for.
    // (crun: "error opening file `…/status`" when the container's state went with its exit)
    if (r.code !== 0 && !/not running|does not exist|not found|No such process|container .* is not running|status`: No such file/i.test(r.stderr))
      throw runtimeFailed(`${this.name} kill ${id} ${signal}`, r.stderr)
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.run(['delete', ...(opts.force ? ['--force'] : []), id], { allowFailure: true })
  }

  async list(): Promise<OciState[]> {
    const r = await this.run(['list', '--format', 'json'], { allowFailure: true })
    if (r.code !== 0 || !r.stdout.trim()) return []
    return (JSON.parse(r.stdout) as OciState[] | null) ?? []
  }
}
