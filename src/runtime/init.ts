import { SkiffError } from '../lib/errors.js'
import type { MountRequest } from './types.js'

// --init (docker run --init): a tiny init as the container's PID 1, which runs
// the job's command as its child, forwards every signal to it and reaps
// zombies. Without one the job's command IS pid 1, and the kernel drops every
// signal pid 1 has no handler for (SIGKILL and SIGSTOP from outside excepted):
// `skiff kill -s SIGTERM` does nothing to a plain `sleep`.
// Debian's tini ships a static build, so it runs in any image, even one without
// a libc; it is bound read-only onto /dev (the runtime's own tmpfs), so nothing
// is added to the image's filesystem. catatonit (podman's) does the same job.

/** Where the init appears in the container. */
export const INIT_PATH = '/dev/init'
/** Static builds first: the image may have no libc, or another one. */
export const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/bin/catatonit', '/usr/libexec/podman/catatonit']

export const initUnavailable = () =>
  new SkiffError('failed_precondition', 'INIT_UNAVAILABLE', `init: no init binary on the host (looked for ${INIT_CANDIDATES.join(', ')}; apt-get install tini)`, { field: 'init' })

/** Pure: the command and the extra mount that put `initBinary` in front of `args`. */
export function withInit(args: readonly string[], initBinary: string): { args: string[]; mount: MountRequest } {
  return { args: [INIT_PATH, '--', ...args], mount: { source: initBinary, destination: INIT_PATH, readonly: true } }
}
