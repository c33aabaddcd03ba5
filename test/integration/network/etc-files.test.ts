import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'

// issue #12: every job gets /etc/hostname and /etc/hosts (localhost + its own
// names); with network host, the host's resolv.conf. Traffic only on 127.0.0.0/8.
// ping resolves the names here; it needs a raw socket, which a job gets only by opt-in
const daemon = useBusyboxDaemon({ env: { SKIFF_ALLOWED_CAPABILITIES: 'NET_RAW' } })

describe('per-job /etc files', () => {
  it('a host-network job reaches a host server as localhost, and gets the host\'s resolv.conf', async () => {
    const srv = createServer((_q, res) => res.end('ok from host\n'))
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
    const port = (srv.address() as AddressInfo).port
    try {
      const r = await daemon().api('POST', '/run?wait=true', { image: 'busybox', network: { mode: 'host' }, cmd: `wget -q -O- http://localhost:${port}/ && cat /etc/resolv.conf` })
      expect(r.json, r.text).toMatchObject({ state: 'exited', exitCode: 0, stderr: '' })
      const resolv = readFileSync('/etc/resolv.conf', 'utf8').split('\n').filter((l) => l.trim()).join('\n')
      expect(r.json.stdout).toBe(`ok from host\n${resolv}\n`)
    } finally {
      srv.close()
    }
  })

  it('a job\'s hostname and name resolve inside it; its hosts file starts with localhost', async () => {
    const r = await daemon().api('POST', '/run?wait=true', { image: 'busybox', name: `named-${process.pid}`, hostname: 'box', capAdd: ['NET_RAW'], cmd: `cat /etc/hostname; ping -c1 -W2 box >/dev/null && ping -c1 -W2 named-${process.pid} >/dev/null && ping -c1 -W2 localhost >/dev/null && echo resolved; head -1 /etc/hosts` })
    expect(r.json, r.text).toMatchObject({ exitCode: 0, stdout: 'box\nresolved\n127.0.0.1\tlocalhost\n' })
    // without a hostname: the job's default one (the end of its id) is in both files
    const d = await daemon().api('POST', '/run?wait=true', { image: 'busybox', cmd: 'cat /etc/hostname; grep -c "$(hostname)" /etc/hosts' })
    expect(d.json.stdout).toBe(`${d.json.id.slice(-12).toLowerCase()}\n1\n`)
  })
})
