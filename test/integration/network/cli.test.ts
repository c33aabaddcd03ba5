import { afterAll, describe, expect, it } from 'vitest'
import { useBusyboxDaemon } from '../../helpers/daemon.js'
import { removeBridge, testNetworkEnv } from '../../helpers/net.js'
import { type CliResult, runSkiff } from '../../helpers/skiff-cli.js'

// skiff run -p / --network, skiff port, skiff network … through the real CLI and daemon.
const net = testNetworkEnv()
const daemon = useBusyboxDaemon({ env: net.env })
const bridges = [net.bridge]
afterAll(() => bridges.forEach(removeBridge))

const skiff = (args: string[]) => runSkiff(daemon(), args)
const get = async (port: number) => {
  for (let i = 0; i < 200; i++) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/`)).text()
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`nothing on ${port}`)
}
const HTTPD = 'mkdir /tmp/w; echo "$MSG" > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w'

describe('skiff CLI: networks and ports', () => {
  it('run -d -p 80, skiff port (all, and one), the server answers on 127.0.0.1', async () => {
    const name = `cliweb${process.pid}`
    const r = await skiff(['run', '-d', '--name', name, '-p', '80', '-p', '127.0.0.1::81/udp', '-e', 'MSG=via-cli', 'busybox', 'sh', '-c', HTTPD])
    expect(r, r.stderr).toMatchObject({ code: 0 })
    let port: CliResult = { code: null, stdout: '', stderr: '' }
    for (let i = 0; i < 200 && !/^80\/tcp/m.test(port.stdout); i++) {
      port = await skiff(['port', name])
      await new Promise((res) => setTimeout(res, 25))
    }
    const lines = port.stdout.trim().split('\n').sort()
    expect(lines).toEqual([expect.stringMatching(/^80\/tcp -> 127\.0\.0\.1:\d+$/), expect.stringMatching(/^81\/udp -> 127\.0\.0\.1:\d+$/)])
    const one = await skiff(['port', name, '80'])
    expect(one.stdout).toMatch(/^127\.0\.0\.1:\d+\n$/)
    expect(await get(Number(one.stdout.trim().split(':')[1]))).toBe('via-cli\n')
    expect(await skiff(['port', name, '9999'])).toMatchObject({ code: 1 })
    await skiff(['kill', name])
  })

  it('network create / ls / inspect / rm, run --network NAME --network-alias; errors name the flag', async () => {
    const n = `clinet${process.pid}`
    expect(await skiff(['network', 'create', n])).toMatchObject({ code: 0, stdout: `${n}\n` })
    const ls = await skiff(['network', 'ls'])
    expect(ls.stdout).toMatch(new RegExp(`^NAME +SUBNET +GATEWAY +BRIDGE +JOBS`))
    expect(ls.stdout).toContain(n)
    const info = JSON.parse((await skiff(['network', 'inspect', n])).stdout)
    bridges.push(info.bridge)
    expect(info).toMatchObject({ name: n, endpoints: [] })
    const srv = await skiff(['run', '-d', '--network', n, '--network-alias', 'api', '-e', 'MSG=by-alias', 'busybox', 'sh', '-c', HTTPD])
    expect(srv.code).toBe(0)
    const cli = await skiff(['run', '--rm', '--network', n, 'busybox', 'sh', '-c', 'for i in $(seq 100); do wget -q -O- http://api:80/ 2>/dev/null && exit 0; usleep 50000; done; exit 1'])
    expect(cli).toMatchObject({ code: 0, stdout: 'by-alias\n' })
    expect(await skiff(['network', 'rm', n])).toMatchObject({ code: 125, stderr: expect.stringContaining('in use') })
    await skiff(['kill', srv.stdout.trim()])
    await skiff(['wait', srv.stdout.trim()])
    let rm = await skiff(['network', 'rm', n])
    for (let i = 0; i < 100 && rm.code !== 0; i++) rm = await skiff(['network', 'rm', n])
    expect(rm).toMatchObject({ code: 0 })
    const bad = await skiff(['run', '-p', '80:x', 'busybox', 'true'])
    expect(bad).toMatchObject({ code: 125, stderr: expect.stringContaining('-p/--publish') })
  })
})
