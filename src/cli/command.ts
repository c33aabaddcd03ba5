import type { FlagSpec, Flags } from './argv.js'
import type { Client } from './client.js'

/** A flag as a command declares it: parsing (argv.ts) and help (help.ts) both
 *  read this one table, so a flag cannot exist without its help line. */
export interface FlagDef extends FlagSpec {
  help: string
  /** the value's placeholder in help: `-m, --memory BYTES` */
  value?: string
  /** accepted but not listed (docker's aliases, e.g. --net for --network) */
  hidden?: boolean
}

export interface Ctx {
  flags: Flags
  args: string[]
  /** the API client, made on first use (local commands never make one) */
  client(): Client
}

/** One `skiff` command. Each lives in its own module under commands/, loaded
 *  only when it runs; the table in commands/index.ts lists them. */
export interface Command {
  /** after `skiff NAME`: "[flags] IMAGE [CMD…]" */
  usage: string
  /** longer text under the usage line of `skiff NAME --help` (the summary is in the table) */
  description?: string
  flags: Record<string, FlagDef>
  /** flags end at the first positional: IMAGE CMD… stays verbatim (run, exec) */
  stopAtPositional?: boolean
  /** positional count checked before run(), with the usage in the error */
  args?: { min?: number; max?: number }
  /** runs without the daemon (daemon, doctor, token): no client is loaded */
  local?: boolean
  run(ctx: Ctx): Promise<number>
}

export const defineCommand = (c: Command): Command => c
