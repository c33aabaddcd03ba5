// docker's detach keys: Ctrl-P Ctrl-Q typed into an attached terminal leaves the
// job running and ends the attach. A Ctrl-P followed by anything else is passed
// on (both bytes), so programs that use Ctrl-P still get it.

export const CTRL_P = 0x10
export const CTRL_Q = 0x11

/** Pure: scan one chunk of raw terminal input. `pending` says a Ctrl-P ended the
 *  previous chunk; the result says what to forward, whether to detach, and
 *  whether this chunk ends with a Ctrl-P (held until the next byte decides). */
export function scanDetach(chunk: Uint8Array, pending: boolean): { forward: Buffer; detach: boolean; pending: boolean } {
  const out: number[] = []
  let held = pending
  for (const b of chunk) {
    if (held) {
      held = false
      if (b === CTRL_Q) return { forward: Buffer.from(out), detach: true, pending: false }
      out.push(CTRL_P)
    }
    if (b === CTRL_P) held = true
    else out.push(b)
  }
  return { forward: Buffer.from(out), detach: false, pending: held }
}
