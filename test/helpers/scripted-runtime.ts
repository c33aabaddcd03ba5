import type { Clock } from '../../src/lib/clock.js'
import type { ContainerLike, ContainerSpecLike, ExitStatusLike, RuntimePort } from '../../src/scheduler/ports.js'

// A runtime for unit tests of the scheduler's decisions (no root, no crun in
// unit tests): every container waits until the test ends it, or until a signal
// it does not ignore arrives. The same scheduler runs against real crun in
// test/integration/.

export class ScriptedContainer implements ContainerLike {
  started = false
  removed = false
  readonly signals: string[] = []
  readonly execs: string[][] = []
  #end!: (e: ExitStatusLike) => void
  #ended = false
  #startedAt = 0
  readonly #exit = new Promise<ExitStatusLike>((r) => (this.#end = r))

  constructor(
    readonly spec: ContainerSpecLike,
    private readonly rt: ScriptedRuntime,
  ) {}

  get id() {
    return this.spec.id
  }

  get ended() {
    return this.#ended
  }

  async start() {
    this.started = true
    this.#startedAt = this.rt.clock.now().getTime()
    this.rt.onStart?.(this)
  }

  wait() {
    return this.#exit
  }

  /** End the container as if its process exited. */
  exit(e: Partial<ExitStatusLike> = {}) {
    if (this.#ended) return
    this.#ended = true
    const wallMs = this.rt.clock.now().getTime() - this.#startedAt
    this.#end({ exitCode: 0, signal: null, oomKilled: false, timedOut: false, usage: { wallMs, cpuUserMs: 0, cpuSysMs: 0, memoryPeakBytes: 0 }, ...e })
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.signals.push(signal)
    if (signal === 'SIGKILL' || !this.rt.ignores.includes(signal)) this.exit({ exitCode: null, signal })
  }

  async exec(cmd: string[]) {
    this.execs.push(cmd)
    return this.rt.exec(this, cmd)
  }

  async remove() {
    this.removed = true
  }
}

export class ScriptedRuntime implements RuntimePort {
  readonly containers: ScriptedContainer[] = []
  /** signals containers survive (a process that traps SIGTERM) */
  ignores: NodeJS.Signals[] = []
  /** healthcheck probes: exit code per call */
  exec: (c: ScriptedContainer, cmd: string[]) => { exitCode: number | null; stdout: string; stderr: string } = () => ({ exitCode: 0, stdout: '', stderr: '' })
  onStart?: (c: ScriptedContainer) => void
  #waiters: { n: number; resolve: () => void }[] = []

  constructor(readonly clock: Clock) {}

  async create(spec: ContainerSpecLike) {
    const c = new ScriptedContainer(spec, this)
    this.containers.push(c)
    queueMicrotask(() => {
      this.#waiters = this.#waiters.filter((w) => (this.containers.length >= w.n ? (w.resolve(), false) : true))
    })
    return c
  }

  async adopt(id: string) {
    const c = this.containers.find((x) => x.id === id && !x.removed)
    return c
  }

  async list() {
    return this.containers.filter((c) => !c.removed).map((c) => c.id)
  }

  /** A view for one daemon process. `crash()` is its kill -9: every handle it
   *  gave out goes inert (waits never resolve, signals and execs go nowhere),
   *  while the containers themselves live on for the next daemon to adopt. */
  session(): { port: RuntimePort; crash(): void } {
    let dead = false
    const never = new Promise<never>(() => {})
    const wrap = (c: ScriptedContainer): ContainerLike => ({
      id: c.id,
      // a daemon that died during the call never sees it return
      start: () => (dead ? never : c.start().then(() => (dead ? never : undefined))),
      wait: () => (dead ? never : c.wait().then((e) => (dead ? never : e))),
      kill: (sig) => (dead ? Promise.resolve() : c.kill(sig)),
      exec: (cmd) => (dead ? never : c.exec(cmd)),
      remove: () => (dead ? Promise.resolve() : c.remove()),
    })
    return {
      port: {
        create: async (spec) => wrap(await this.create(spec)),
        adopt: async (id) => {
          const c = await this.adopt(id)
          return c && wrap(c)
        },
        list: () => this.list(),
      },
      crash: () => void (dead = true),
    }
  }

  /** The n-th container (1-based) once it exists. */
  async nth(n: number): Promise<ScriptedContainer> {
    if (this.containers.length < n) await new Promise<void>((resolve) => this.#waiters.push({ n, resolve }))
    return this.containers[n - 1]!
  }

  get last(): ScriptedContainer {
    return this.containers.at(-1)!
  }
}
