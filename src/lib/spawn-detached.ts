import { spawn } from 'node:child_process'
import { Socket } from 'node:net'
import { constants } from 'node:os'
import { Readable } from 'node:stream'
import { nativeSys } from './native.js'

/** A child in its own session that may outlive us, with pipes from chosen fds. */
export interface DetachedChild {
  pid: number
  /** read ends of the child's `pipeFds`, in the same order */
  pipes: Readable[]
  /** the exit code (128+N for signal N); rejects when the program cannot be run */
  exited: Promise<number>
}

/** Start `file` detached: stdin and stdout on /dev/null, a new session, and a pipe
 *  for each fd in `pipeFds`. Through posix_spawn when the addon is built, because
 *  Node's spawn forks the whole daemon (lib/native.ts); the child is reaped on the
 *  thread pool either way, so no zombie is left. Start failures (ENOENT) reject
 *  `exited`, as with Node's spawn. */
export async function spawnDetached(
  file: string,
  args: string[],
  o: { env: NodeJS.ProcessEnv; cwd?: string; pipeFds: number[]; /** false forces Node's spawn (tests) */ native?: boolean },
): Promise<DetachedChild> {
  const sys = o.native === false ? undefined : nativeSys()
  if (sys) {
    const envp = Object.entries(o.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]))
    let r: { pid: number; fds: number[] }
    try {
      r = await sys.spawn(file, [file, ...args], envp, o.cwd ?? null, o.pipeFds)
    } catch (e) {
      return { pid: 0, pipes: o.pipeFds.map(() => Readable.from([])), exited: Promise.reject(e) }
    }
    // net.Socket on a pipe fd reads through epoll, not a blocked pool thread
    const pipes = r.fds.map((fd) => new Socket({ fd, readable: true, writable: false }))
    return { pid: r.pid, pipes, exited: sys.waitpid(r.pid) }
  }
  const stdio: ('ignore' | 'pipe')[] = Array.from({ length: Math.max(2, ...o.pipeFds) + 1 }, () => 'ignore')
  for (const fd of o.pipeFds) stdio[fd] = 'pipe'
  const child = spawn(file, args, { stdio, env: o.env, cwd: o.cwd, detached: true })
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)))
  })
  child.unref()
  return { pid: child.pid ?? 0, pipes: o.pipeFds.map((fd) => child.stdio[fd] as Readable), exited }
}
