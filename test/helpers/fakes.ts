import type { ImageRecord } from '../../src/images/types.js'
import type { ContainerLike, ContainerSpecLike, ExitStatusLike, RuntimePort } from '../../src/scheduler/ports.js'

// Fakes for unit tests only (no root, no crun there). Integration tests run the
// same services against real crun, overlayfs and a real registry.

export const fakeImage: ImageRecord = {
  id: 'sha256:aaaa', refs: ['fake:latest'], manifestDigest: 'sha256:bbbb', platform: { os: 'linux', architecture: 'amd64' },
  config: { Cmd: ['true'] }, layers: [], size: 0, createdAt: new Date(0),
}
const usage = { wallMs: 1, cpuUserMs: 0, cpuSysMs: 0, memoryPeakBytes: 0 }

export class FakeRuntime implements RuntimePort {
  running = 0
  maxRunning = 0
  created: ContainerSpecLike[] = []
  /** container ids in the order they were started */
  started: string[] = []
  constructor(private readonly behave: (spec: ContainerSpecLike) => { ms: number; exit: Partial<ExitStatusLike> } = () => ({ ms: 1, exit: {} })) {}
  async create(spec: ContainerSpecLike): Promise<ContainerLike> {
    this.created.push(spec)
    const rt = this
    let resolveExit!: (e: ExitStatusLike) => void
    let ended = false
    const exited = new Promise<ExitStatusLike>((r) => (resolveExit = r))
    const end = (e: ExitStatusLike) => {
      if (ended) return
      ended = true
      rt.running--
      resolveExit(e)
    }
    const { ms, exit } = this.behave(spec)
    return {
      id: spec.id,
      async start() {
        rt.started.push(spec.id)
        rt.running++
        rt.maxRunning = Math.max(rt.maxRunning, rt.running)
        setTimeout(() => end({ exitCode: 0, signal: null, oomKilled: false, timedOut: false, usage, ...exit }), ms)
      },
      wait: () => exited,
      async kill(signal) {
        end({ exitCode: null, signal: signal ?? 'SIGKILL', oomKilled: false, timedOut: false, usage })
      },
      async exec(cmd) {
        return { exitCode: 0, stdout: cmd.join(' '), stderr: '' }
      },
      async remove() {},
    }
  }
  async adopt() {
    return undefined
  }
}
