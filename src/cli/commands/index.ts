import type { Command } from '../command.js'

/** The command table: the one place a command is registered. Each module is
 *  loaded only when its command runs (or for its own --help), so `skiff ps`
 *  never parses the code of `run` or `daemon`. To add a command: a module under
 *  commands/ whose default export is a Command, and one row here. */
export interface CommandEntry {
  name: string
  /** heading in `skiff --help`; sub-commands have none */
  group?: string
  summary: string
  aliases?: string[]
  load?: () => Promise<{ default: Command }>
  /** `skiff image ls`: a noun with verbs */
  sub?: CommandEntry[]
}

export const GROUPS = ['Jobs', 'Images', 'Networks', 'Daemon'] as const

export const COMMANDS: CommandEntry[] = [
  { name: 'run', group: 'Jobs', summary: 'run a job: in the foreground (output streamed, exits with its code) or -d', load: () => import('./run.js') },
  { name: 'ps', group: 'Jobs', summary: 'list jobs (running ones; -a for all)', load: () => import('./ps.js') },
  { name: 'logs', group: 'Jobs', summary: 'print or follow a job\'s output', load: () => import('./logs.js') },
  { name: 'attach', group: 'Jobs', summary: 'connect our stdin/output to a running job (Ctrl-C detaches)', load: () => import('./attach.js') },
  { name: 'exec', group: 'Jobs', summary: 'run a command inside a running job', load: () => import('./exec.js') },
  { name: 'inspect', group: 'Jobs', summary: 'show jobs as JSON', load: () => import('./inspect.js') },
  { name: 'stop', group: 'Jobs', summary: 'stop jobs: their stop signal, SIGKILL after a timeout', load: () => import('./stop.js') },
  { name: 'start', group: 'Jobs', summary: 'start stopped or ended jobs again', load: () => import('./start.js') },
  { name: 'restart', group: 'Jobs', summary: 'stop jobs, then start them again', load: () => import('./restart.js') },
  { name: 'update', group: 'Jobs', summary: 'change the restart policy of jobs', load: () => import('./update.js') },
  { name: 'kill', group: 'Jobs', summary: 'signal running jobs (default SIGKILL)', load: () => import('./kill.js') },
  { name: 'wait', group: 'Jobs', summary: 'wait for jobs to end and print their exit codes', load: () => import('./wait.js') },
  { name: 'rm', group: 'Jobs', summary: 'remove finished jobs and their logs', load: () => import('./rm.js') },
  { name: 'port', group: 'Jobs', summary: 'list a job\'s published ports (or the host address of one)', load: () => import('./port.js') },
  { name: 'prune', group: 'Jobs', summary: 'remove all finished jobs', load: () => import('./prune.js') },
  {
    name: 'cron', group: 'Jobs', summary: 'run jobs on a cron schedule (add, ls, inspect, rm, suspend, resume, trigger)',
    sub: [
      { name: 'add', aliases: ['create'], summary: 'create a schedule: NAME SCHEDULE IMAGE [CMD…]', load: () => import('./cron-add.js') },
      { name: 'ls', aliases: ['list'], summary: 'list schedules with their next run', load: () => import('./cron-ls.js') },
      { name: 'inspect', summary: 'show schedules as JSON: next runs, recent runs, misses', load: () => import('./cron-inspect.js') },
      { name: 'rm', summary: 'delete schedules (and their runs)', load: () => import('./cron-rm.js') },
      { name: 'suspend', summary: 'stop a schedule from firing', load: () => import('./cron-suspend.js') },
      { name: 'resume', summary: 'let a suspended schedule fire again (from now)', load: () => import('./cron-resume.js') },
      { name: 'trigger', summary: 'start a run now (recorded as manual)', load: () => import('./cron-trigger.js') },
    ],
  },

  { name: 'pull', group: 'Images', summary: 'pull an image, with per-layer progress', load: () => import('./pull.js') },
  { name: 'images', group: 'Images', summary: 'list images', load: () => import('./images.js') },
  { name: 'rmi', group: 'Images', summary: 'remove image references', load: () => import('./rmi.js') },
  { name: 'load', group: 'Images', summary: 'load a docker-save or OCI layout tar', load: () => import('./load.js') },
  { name: 'save', group: 'Images', summary: 'export images as a docker-save tar', load: () => import('./save.js') },
  { name: 'import', group: 'Images', summary: 'import a rootfs tarball as a one-layer image', load: () => import('./import.js') },
  {
    name: 'image', group: 'Images', summary: 'manage images (ls, rm, prune, pull, load, save, import)',
    sub: [
      { name: 'ls', aliases: ['list'], summary: 'list images', load: () => import('./images.js') },
      { name: 'rm', summary: 'remove image references', load: () => import('./rmi.js') },
      { name: 'prune', summary: 'remove unused images and layers', load: () => import('./image-prune.js') },
      { name: 'pull', summary: 'pull an image', load: () => import('./pull.js') },
      { name: 'load', summary: 'load a docker-save or OCI layout tar', load: () => import('./load.js') },
      { name: 'save', summary: 'export images as a docker-save tar', load: () => import('./save.js') },
      { name: 'import', summary: 'import a rootfs tarball as a one-layer image', load: () => import('./import.js') },
    ],
  },

  {
    name: 'network', group: 'Networks', summary: 'manage bridge networks (create, ls, inspect, rm)',
    sub: [
      { name: 'create', summary: 'create a network (jobs on it reach each other by name)', load: () => import('./network.js').then((m) => ({ default: m.create })) },
      { name: 'ls', aliases: ['list'], summary: 'list networks', load: () => import('./network.js').then((m) => ({ default: m.ls })) },
      { name: 'inspect', summary: 'show networks and the jobs on them as JSON', load: () => import('./network.js').then((m) => ({ default: m.inspect })) },
      { name: 'rm', aliases: ['remove'], summary: 'remove networks no job uses', load: () => import('./network.js').then((m) => ({ default: m.rm })) },
    ],
  },

  { name: 'daemon', group: 'Daemon', summary: 'run the skiff daemon in the foreground', load: () => import('./daemon.js') },
  { name: 'doctor', group: 'Daemon', summary: 'check this host and the data dir\'s file modes; print fixes', load: () => import('./doctor.js') },
  { name: 'token', group: 'Daemon', summary: 'print (or rotate) the API token for TCP clients', load: () => import('./token.js') },
  { name: 'version', group: 'Daemon', summary: 'show the client\'s and the daemon\'s versions', load: () => import('./version.js') },
]

export function findCommand(table: readonly CommandEntry[], name: string): CommandEntry | undefined {
  return table.find((c) => c.name === name || c.aliases?.includes(name))
}
