/** Wait for a condition, not for a time: poll `check` until it returns a value
 *  other than undefined/false, or fail after `timeoutMs` naming what never
 *  happened. The deadline is a safety net for a hung test (generous, so a slow
 *  machine only waits longer), never the thing the test relies on. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, o: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000)
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, o.everyMs ?? 20))
  }
}
