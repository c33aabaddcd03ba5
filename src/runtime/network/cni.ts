import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execPooled } from '../../lib/exec.js'
import { isSkiffError, SkiffError } from '../../lib/errors.js'

// The CNI protocol, spec 1.0.0 (https://github.com/containernetworking/cni/blob/main/SPEC.md):
//  1. A plugin is an executable named by the config's `type`, found in CNI_PATH.
//  2. Parameters come in the environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
//     CNI_IFNAME, CNI_PATH), the network config as JSON on stdin.
//  3. A list (conflist) runs its plugins in order for ADD, each getting the previous
//     one's result as `prevResult`; the last result is the list's. DEL runs them in
//     reverse and CHECK in order, both with the ADD result as `prevResult`.
//  4. `runtimeConfig` carries dynamic data (portMappings, ips) only to plugins that
//     declare the matching `capabilities`.
//  5. Success: the result JSON on stdout, exit 0. Failure: exit non-zero with
//     {code, msg, details} on stdout.
// Each call is a spawn (through posix_spawn, lib/exec.ts); only bridge-network jobs pay it.

export interface CniConflist {
  cniVersion: string
  name: string
  plugins: ({ type: string; capabilities?: Record<string, boolean> } & Record<string, unknown>)[]
}

export interface CniResult {
  cniVersion: string
  interfaces?: { name: string; mac?: string; sandbox?: string }[]
  ips?: { address: string; gateway?: string; interface?: number }[]
  routes?: { dst: string; gw?: string }[]
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }
}

export interface CniAttachment {
  containerId: string
  /** path of the netns file; '' when it is gone (DEL then frees what it can: the IPAM lease) */
  netns: string
  ifname: string
  runtimeConfig?: Record<string, unknown>
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK'

/** Pure: the stdin config of plugin `i` of a list (step 3 and 4 above). */
export function pluginConfig(list: CniConflist, i: number, runtimeConfig: Record<string, unknown> | undefined, prevResult: CniResult | undefined): Record<string, unknown> {
  const p = list.plugins[i]!
  const caps = Object.entries(p.capabilities ?? {}).filter(([, on]) => on).map(([k]) => k)
  const rc = Object.fromEntries(Object.entries(runtimeConfig ?? {}).filter(([k]) => caps.includes(k)))
  return {
    ...p,
    cniVersion: list.cniVersion,
    name: list.name,
    ...(Object.keys(rc).length ? { runtimeConfig: rc } : {}),
    ...(prevResult ? { prevResult } : {}),
  }
}

export const networkSetupFailed = (what: string, why: string, cause?: unknown) =>
  new SkiffError('internal', 'NETWORK_SETUP_FAILED', `${what}: ${why}`, { cause })

export interface CniOptions {
  /** where plugin binaries are (CNI_PATH), first match wins */
  pluginDirs: string[]
  timeoutMs?: number
}

export class Cni {
  readonly path: string
  constructor(private readonly o: CniOptions) {
    this.path = o.pluginDirs.join(':')
  }

  /** The plugin binary for `type`, or undefined when no plugin dir has it. */
  find(type: string): string | undefined {
    if (!/^[A-Za-z0-9_.-]+$/.test(type)) return undefined
    return this.o.pluginDirs.map((d) => join(d, type)).find((p) => existsSync(p))
  }

  /** One plugin call. `scratch` is a private dir for the stdin file. */
  async exec(cmd: CniCommand, config: Record<string, unknown>, a: CniAttachment, scratch: string): Promise<CniResult | undefined> {
    const type = String(config.type)
    const bin = this.find(type)
    if (!bin) throw new SkiffError('failed_precondition', 'CNI_PLUGIN_MISSING', `CNI plugin ${JSON.stringify(type)} not found in ${this.path}; install containernetworking-plugins (scripts/setup-host)`)
    const stdinPath = join(scratch, `cni-${type}.${cmd.toLowerCase()}.json`)
    writeFileSync(stdinPath, JSON.stringify(config), { mode: 0o600 })
    const env = {
      CNI_COMMAND: cmd, CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifname, CNI_PATH: this.path,
      // plugins run iptables and friends by name
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    }
    try {
      const r = await execPooled([bin], { env, stdinPath, timeoutMs: this.o.timeoutMs ?? 60_000, errorCode: 'NETWORK_SETUP_FAILED' })
      if (cmd !== 'ADD' || !r.stdout.trim()) return undefined
      return JSON.parse(r.stdout) as CniResult
    } catch (e) {
      throw networkSetupFailed(`CNI ${cmd} ${type} (network ${String(config.name)}, container ${a.containerId})`, pluginError(e), e)
    }
  }

  /** ADD the whole list; on a failure, DEL what was added and rethrow. */
  async add(list: CniConflist, a: CniAttachment, scratch: string): Promise<CniResult> {
    let prev: CniResult | undefined
    for (let i = 0; i < list.plugins.length; i++) {
      try {
        prev = (await this.exec('ADD', pluginConfig(list, i, a.runtimeConfig, prev), a, scratch)) ?? prev
      } catch (e) {
        await this.del({ ...list, plugins: list.plugins.slice(0, i + 1) }, a, prev, scratch).catch(() => {})
        throw e
      }
    }
    if (!prev) throw networkSetupFailed(`CNI ADD ${list.name}`, 'the plugins returned no result')
    return prev
  }

  /** DEL in reverse; every plugin gets its call even if one fails (the first error is rethrown). */
  async del(list: CniConflist, a: CniAttachment, prevResult: CniResult | undefined, scratch: string): Promise<void> {
    let first: unknown
    for (let i = list.plugins.length - 1; i >= 0; i--) {
      await this.exec('DEL', pluginConfig(list, i, a.runtimeConfig, prevResult), a, scratch).catch((e) => (first ??= e))
    }
    if (first) throw first
  }

  async check(list: CniConflist, a: CniAttachment, prevResult: CniResult, scratch: string): Promise<void> {
    for (let i = 0; i < list.plugins.length; i++) await this.exec('CHECK', pluginConfig(list, i, a.runtimeConfig, prevResult), a, scratch)
  }
}

/** A plugin's own words: its error JSON ({code, msg, details}) on stdout, else stderr. */
function pluginError(e: unknown): string {
  if (!isSkiffError(e)) return String(e)
  for (const out of [e.extra.detail?.stdout, e.extra.detail?.stderr]) {
    try {
      const j = JSON.parse(String(out ?? '')) as { code?: number; msg?: string; details?: string }
      if (j.msg) return `${j.msg}${j.details ? ` (${j.details})` : ''}`
    } catch {
      /* not JSON */
    }
  }
  return String(e.extra.detail?.stderr ?? '') || e.message
}
