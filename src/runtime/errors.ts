import { SkiffError } from '../lib/errors.js'

// Factories keep messages uniform: lowercase, no trailing period, name the thing.
// Every code is listed in docs/errors/runtime.md.

export const noCommand = () =>
  new SkiffError('invalid_argument', 'NO_COMMAND', 'no command: the image has no Entrypoint or Cmd and the request gives none', { field: 'cmd' })
export const unknownUser = (what: 'user' | 'group', name: string) =>
  new SkiffError('invalid_argument', 'UNKNOWN_USER', `user: no ${what} ${JSON.stringify(name)} in the image's /etc/${what === 'user' ? 'passwd' : 'group'}`, { field: 'user' })
export const noLayers = () => new SkiffError('invalid_argument', 'NO_LAYERS', 'image has no layers')
export const badLayerPath = (dir: string) => new SkiffError('internal', 'BAD_LAYER_PATH', `layer path ${dir} contains "," or ":"`)
export const invalidContainerId = (id: string) =>
  new SkiffError('invalid_argument', 'INVALID_CONTAINER_ID', `container id ${JSON.stringify(id)} is not valid`)
export const containerExists = (id: string) => new SkiffError('conflict', 'CONTAINER_EXISTS', `container ${id} already exists`)
export const monitorMissing = (conmon: string, cause: Error) =>
  new SkiffError('failed_precondition', 'MONITOR_MISSING', `cannot start conmon (${conmon}): ${cause.message}; run \`skiff doctor\``, { cause })
export const runtimeFailed = (what: string, stderr: string) => new SkiffError('internal', 'RUNTIME_FAILED', `${what}: ${stderr.trim()}`)

/** The runtime's own words without runc's logrus framing (time="…" level=error msg="…"). */
export function runtimeMessage(raw: string): string {
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(raw)
  return (m ? m[1]!.replace(/\\(.)/g, '$1') : raw).trim()
}

/** Pure: what a failed `create` means. The job's command missing from the image
 *  (docker answers 127) or not executable (126) is the caller's doing; anything
 *  else is ours. `command` is the process's argv[0], used when the runtime's
 *  message does not name it.
 *  crun: "executable file `x` not found in $PATH: No such file or directory",
 *        "open executable: Permission denied" / "Operation not permitted"
 *  runc: "exec: \"x\": executable file not found in $PATH", "exec: \"/x\": stat /x: no such file or directory",
 *        "exec: \"/etc\": permission denied" */
export function createFailed(id: string, raw: string, command?: string): SkiffError {
  const msg = runtimeMessage(raw)
  const named = /executable file `([^`]+)`/.exec(msg)?.[1] ?? /exec: "((?:[^"\\]|\\.)*)"/.exec(msg)?.[1] ?? command
  const cmd = named ? JSON.stringify(named) : 'the command'
  if (/executable file\b.*\bnot found|exec: "[^"]*": stat [^:]*: no such file or directory/i.test(msg))
    return new SkiffError('invalid_argument', 'EXECUTABLE_NOT_FOUND', `cmd: executable ${cmd} not found in the image (${msg})`, { field: 'cmd', detail: { command: named } })
  if (/open executable: (permission denied|operation not permitted)|exec: "[^"]*": permission denied/i.test(msg))
    return new SkiffError('invalid_argument', 'EXECUTABLE_NOT_RUNNABLE', `cmd: ${cmd} is not an executable file (${msg})`, { field: 'cmd', detail: { command: named } })
  return new SkiffError('internal', 'CONTAINER_CREATE_FAILED', `create container ${id}: ${msg || 'the runtime gave no reason'}`)
}
/** Could this be the runtime's own words on failing to start a command (createFailed's
 *  two cases)? Streamed exec output that starts so is held until the exit tells. */
export const looksLikeStartFailure = (text: string) =>
  /executable file\b.*\bnot found|exec: "[^"]*": stat |open executable: |exec: "[^"]*": permission denied/i.test(text)
export const stdinClosed = (id: string, why: string) => new SkiffError('conflict', 'STDIN_CLOSED', `stdin of container ${id} is closed: ${why}`)
export const stdinUnavailable = (id: string, why: string) => new SkiffError('failed_precondition', 'STDIN_UNAVAILABLE', `cannot attach to the stdin of container ${id}: ${why}`)
export const notATerminal = (id: string) => new SkiffError('conflict', 'NOT_A_TERMINAL', `container ${id} has no terminal (run it with "tty": true)`)
