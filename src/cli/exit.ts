import { isSkiffError } from '../lib/errors.js'

/** Exit codes, as docker's CLI chooses them (docs.docker.com "docker run" exit status):
 *  125 — skiff itself failed: bad usage, daemon unreachable, request refused;
 *  126 — the job's command cannot be invoked (not executable);
 *  127 — the job's command was not found in the image;
 *  otherwise the job's own code, 128+N when signal N ended it (a shell's habit). */
export const EXIT = { skiff: 125, notRunnable: 126, notFound: 127, sigpipe: 141 } as const

export interface JobEnd {
  state?: string
  exitCode: number | null
  signal: string | null
  reason?: string | null
}

const BY_REASON: Record<string, number> = { EXECUTABLE_NOT_FOUND: EXIT.notFound, EXECUTABLE_NOT_RUNNABLE: EXIT.notRunnable }

// Linux's signal numbers (signal(7), x86/arm): inline, as node:os costs a module load on every command
const SIGNALS = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS']

export function signalNumber(name: string): number | undefined {
  const n = name.replace(/^SIG/, '')
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(n)
  if (rt) return 34 + Number(rt[1] ?? 0)
  const i = SIGNALS.indexOf(n === 'IOT' ? 'ABRT' : n === 'POLL' ? 'IO' : n)
  return i < 0 ? undefined : i + 1
}

export function exitCodeOf(j: JobEnd): number {
  if (j.exitCode !== null) return j.exitCode
  if (j.signal) return 128 + (signalNumber(j.signal) ?? 0)
  if (j.state === 'failed') return BY_REASON[j.reason ?? ''] ?? EXIT.skiff
  return EXIT.skiff
}

/** The code for an error skiff itself raised (not a job's exit). */
export function exitCodeOfError(e: unknown): number {
  if (isSkiffError(e)) return BY_REASON[e.code] ?? EXIT.skiff
  return EXIT.skiff
}
