import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OciSeccomp } from './oci-spec.js'

/** crun's annotation for a precompiled filter: with it crun loads these BPF bytes
 *  instead of compiling the spec's `seccomp` section with libseccomp (≈0.7 ms of
 *  every create here). crun ≥ 1.10 caches compiled filters itself; Debian 12 has 1.8. */
export const BPF_ANNOTATION = 'run.oci.seccomp_bpf_data'

/** Filters crun compiled, by profile: the first container with a profile is
 *  compiled by crun as usual, which leaves the program in <state>/<id>/seccomp.bpf;
 *  later containers with the same profile get those exact bytes back. The key is
 *  the profile's JSON and the runtime binary, so a changed profile or crun
 *  recompiles. Only for crun: runc ignores the annotation. */
export class SeccompCache {
  #bpf = new Map<string, string>()

  constructor(private readonly runtimePath: string) {}

  key(profile: OciSeccomp): string {
    return createHash('sha256').update(this.runtimePath).update('\0').update(JSON.stringify(profile)).digest('hex')
  }

  /** base64 BPF for this profile, if crun compiled it before. */
  get(profile: OciSeccomp): string | undefined {
    return this.#bpf.get(this.key(profile))
  }

  /** After a create that compiled `profile`: keep what crun wrote. */
  async learn(profile: OciSeccomp, stateDir: string): Promise<void> {
    const k = this.key(profile)
    if (this.#bpf.has(k)) return
    const bytes = await readFile(join(stateDir, 'seccomp.bpf')).catch(() => undefined)
    // a BPF program is a whole number of 8-byte instructions
    if (bytes && bytes.length > 0 && bytes.length % 8 === 0) this.#bpf.set(k, bytes.toString('base64'))
  }
}
