// Types mirroring the OCI runtime spec's config.json field names exactly, so
// spec.ts reads like the spec. Only what skiff sets is typed.
// https://github.com/opencontainers/runtime-spec/blob/main/config.md

export interface OciSpec {
  ociVersion: string
  process: OciProcess
  root: { path: string; readonly?: boolean }
  hostname?: string
  mounts: OciMount[]
  linux: OciLinux
  annotations?: Record<string, string>
}

export interface OciProcess {
  terminal: boolean
  consoleSize?: { height: number; width: number }
  user: { uid: number; gid: number; additionalGids?: number[]; umask?: number }
  args: string[]
  env: string[]
  cwd: string
  capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] }
  rlimits: { type: string; hard: number; soft: number }[]
  noNewPrivileges: boolean
  oomScoreAdj?: number
}

export interface OciMount {
  destination: string
  type: string
  source: string
  options?: string[]
}

export interface OciLinux {
  namespaces: { type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup'; path?: string }[]
  resources: {
    devices?: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[]
    memory?: { limit?: number; swap?: number; reservation?: number; disableOOMKiller?: boolean }
    cpu?: { quota?: number; period?: number; shares?: number }
    pids?: { limit: number }
  }
  cgroupsPath: string
  maskedPaths: string[]
  readonlyPaths: string[]
  seccomp?: OciSeccomp
  sysctl?: Record<string, string>
}

export interface OciSeccomp {
  defaultAction: string
  defaultErrnoRet?: number
  architectures: string[]
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] }[]
}
