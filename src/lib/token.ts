import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync, renameSync } from 'node:fs'

/** The API token lives in <dataDir>/token (0600). Re-read when the file changes,
 *  so `skiff token --rotate` takes effect without a restart. */
export class TokenFile {
  #value = ''
  #mtimeMs = -1
  #checkedAt = 0

  constructor(readonly path: string, private readonly fixed?: string) {}

  /** Create the file if missing; returns true when a new token was generated. */
  ensure(): boolean {
    if (this.fixed) return false
    try {
      statSync(this.path)
      return false
    } catch {
      this.write(TokenFile.generate())
      return true
    }
  }

  static generate(): string {
    return randomBytes(32).toString('base64url')
  }

  write(token: string): void {
    const tmp = `${this.path}.tmp`
    writeFileSync(tmp, token + '\n', { mode: 0o600 })
    renameSync(tmp, this.path)
  }

  current(): string {
    if (this.fixed) return this.fixed
    const now = Date.now()
    if (now - this.#checkedAt > 1000 || !this.#value) {
      this.#checkedAt = now
      const st = statSync(this.path)
      if (st.mtimeMs !== this.#mtimeMs) {
        this.#value = readFileSync(this.path, 'utf8').trim()
        this.#mtimeMs = st.mtimeMs
      }
    }
    return this.#value
  }
}
