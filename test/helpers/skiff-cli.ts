import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/lib/paths.js'
import type { TestDaemon } from './daemon.js'

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `skiff ARGS…` from the checkout's source against a test daemon's socket. */
export function runSkiff(d: TestDaemon, args: string[], opts: { input?: string; env?: Record<string, string>; onStdout?: (all: string) => void } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/skiff.js'), ...args], {
      env: { ...process.env, SKIFF_SOCKET: d.socket, SKIFF_HOST: '', SKIFF_FROM_SOURCE: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (b) => {
      stdout += b
      opts.onStdout?.(stdout)
    })
    c.stderr.on('data', (b) => (stderr += b))
    c.stdin.end(opts.input ?? '')
    c.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
