import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

/** `skiff …` on a 33x77 terminal; `out()` is what the terminal shows so far. With
 *  `resizeWhen`, the terminal becomes 40x100 once that file exists (stty on the same
 *  terminal: the kernel sends skiff SIGWINCH). */
function onTerminal(args: string[], o: { resizeWhen?: string } = {}) {
  const resize = o.resizeWhen ? `(while [ ! -e ${q(o.resizeWhen)} ]; do sleep 0.05; done; stty rows 40 cols 100 </dev/tty) & ` : ''
  const cmd = `stty rows 33 cols 77; ${resize}exec ${q(process.execPath)} ${q(join(PACKAGE_ROOT, 'bin/skiff.js'))} ${args.map(q).join(' ')}`
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

describe('skiff exec -it', () => {
  let job = ''
  beforeAll(async () => {
    job = (await d.api('POST', '/run', { image: 'busybox', name: `exec-tty-${process.pid}`, cmd: ['sleep', '100000'] })).json.id
    await until('the job running', async () => (await d.api('GET', `/jobs/${job}`)).json.state === 'running')
  })
  afterAll(async () => {
    if (job) await d.api('POST', `/jobs/${job}/kill`)
  })

  it('a shell on a pseudo-terminal of our size that follows our window; its exit code is ours', async () => {
    const trigger = join(d.dataDir, `resize-${process.pid}`)
    const t = onTerminal(['exec', '-it', job, 'sh'], { resizeWhen: trigger })
    try {
      // busybox sh prints a prompt (then asks for the cursor position) only on a terminal
      await until('the prompt', () => t.out().includes('/ # '))
      t.type('tty; stty size\r')
      await until('the tty and its size', () => /\/dev\/pts\/\d+\s+33 77\s/.test(t.out()))
      writeFileSync(trigger, '')
      // the new size reaches the exec's terminal: asked until it shows (SIGWINCH comes when it comes)
      let polls = 0
      await until('the new size', () => {
        if (/40 100\s/.test(t.out())) return true
        if (polls++ % 10 === 0) t.type('stty size\r')
        return false
      })
      t.type('exit 5\r')
      expect(await t.code).toBe(5)
      expect(t.out()).not.toMatch(/skiff:/)
    } finally {
      t.kill()
    }
  })

  it('-t without -i: a terminal, no input; the exit code of a missing command is 127', async () => {
    const t = onTerminal(['exec', '-t', job, 'sh', '-c', 'test -t 0 && test -t 1 && echo on-a-tty; exit 3'])
    try {
      expect(await t.code).toBe(3)
      expect(t.out()).toContain('on-a-tty')
    } finally {
      t.kill()
    }
    const n = onTerminal(['exec', '-it', job, 'nosuch-command'])
    try {
      expect(await n.code).toBe(127)
      expect(n.out()).toMatch(/skiff: .*nosuch-command.* not found/)
    } finally {
      n.kill()
    }
  })
})
