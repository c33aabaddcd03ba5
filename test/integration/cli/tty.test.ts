import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { PACKAGE_ROOT } from '../../../src/lib/paths.js'
import { useBusyboxDaemon, type TestDaemon } from '../../helpers/daemon.js'

// `skiff run -it` from a real terminal: script(1) gives the CLI a pty of a known
// size; the job gets its own pty (conmon -t) of the same size; keystrokes go in raw.
const daemon = useBusyboxDaemon()
let d: TestDaemon
beforeAll(() => {
  d = daemon()
})

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** `skiff …` on a 33x77 terminal; `out()` is what the terminal shows so far. */
function onTerminal(args: string[]) {
  const cmd = `stty rows 33 cols 77; exec ${q(process.execPath)} ${q(join(PACKAGE_ROOT, 'bin/skiff.js'))} ${args.map(q).join(' ')}`
  const c = spawn('script', ['-qefc', cmd, '/dev/null'], {
    env: { ...process.env, SKIFF_SOCKET: d.socket, SKIFF_HOST: '', SKIFF_FROM_SOURCE: '1', TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  c.stdout.on('data', (b) => (out += b))
  c.stderr.on('data', (b) => (out += b))
  const code = new Promise<number | null>((r) => c.on('close', (n) => r(n)))
  return { out: () => out, type: (s: string) => c.stdin.write(s), code, kill: () => c.kill('SIGKILL') }
}

const until = async (what: string, f: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 1500; i++) {
    if (await f()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('skiff run -it', () => {
  it('the job sees a terminal of our size, our keystrokes reach it raw, its exit code is ours', async () => {
    const t = onTerminal(['run', '--rm', '-it', 'busybox', 'sh', '-c', 'stty size; read -r x; echo "got-$x"; exit 6'])
    try {
      await until('the size', () => t.out().includes('33 77'))
      t.type('hi\r')
      expect(await t.code).toBe(6)
      expect(t.out()).toContain('got-hi')
    } finally {
      t.kill()
    }
  })

  it('Ctrl-P Ctrl-Q detaches and leaves the job running', async () => {
    const name = `tty-detach-${process.pid}`
    const t = onTerminal(['run', '-it', '--name', name, 'busybox', 'sh', '-c', 'echo ready; exec sleep 100000'])
    try {
      await until('ready', () => t.out().includes('ready'))
      t.type('\x10\x11')
      expect(await t.code).toBe(0)
      expect(t.out()).toContain('detached')
      expect((await d.api('GET', `/jobs/${name}`)).json.state).toBe('running')
    } finally {
      t.kill()
      await d.api('POST', `/jobs/${name}/kill`)
    }
  })
})
