import { spawn, type ChildProcess } from 'node:child_process'
import { createSign, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { exec } from '../../src/lib/exec.js'
import { freePort } from './daemon.js'

export type RegistryAuthMode = 'none' | 'basic' | 'token'

export interface TestRegistry {
  /** 127.0.0.1:<port> — usable as the domain of a reference. */
  host: string
  url: string
  auth: RegistryAuthMode
  username: string
  password: string
  /** Authorization header for pushing (token mode fetches a push token). */
  authHeader(repo: string, actions?: string): Promise<string | undefined>
  /** Token requests the token server answered (token mode). */
  tokenRequests(): number
  stop(): Promise<void>
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url')

/** Issue a JWT the way docker/distribution's token auth expects (RS256, x5c header with the
 *  self-signed cert that is also the registry's rootcertbundle). */
function issueJwt(keyPem: string, certDer: Buffer, claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }
  const body = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
  const sig = createSign('RSA-SHA256').update(body).sign(keyPem)
  return `${body}.${b64url(sig)}`
}

function parseScope(scope: string): { type: string; name: string; actions: string[] }[] {
  // repository:name:pull,push (name may contain ':' for host:port? never in registry scopes)
  const i = scope.indexOf(':')
  const j = scope.lastIndexOf(':')
  if (i < 0 || j <= i) return []
  return [{ type: scope.slice(0, i), name: scope.slice(i + 1, j), actions: scope.slice(j + 1).split(',') }]
}

/** Debian's docker-registry (Distribution 2.8) on 127.0.0.1:<free port> with a temp storage
 *  dir; basic auth via a bcrypt htpasswd; token auth via a JWT token server written here. */
export async function startRegistry(opts: { auth?: RegistryAuthMode } = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none'
  const dir = mkdtempSync(join(tmpdir(), 'skiff-reg-'))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const username = 'skiff'
  const password = randomBytes(8).toString('hex')
  const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
  let tokenServer: Server | undefined
  let tokens = 0
  let child: ChildProcess | undefined
  let keyPem = ''
  let certDer = Buffer.alloc(0)
  const service = 'skiff-test-registry'
  const issuer = 'skiff-test-issuer'
  let authYaml = ''
  try {
    if (auth === 'basic') {
      // Distribution only accepts bcrypt htpasswd entries; glibc's crypt(3) makes them
      // ($2b$), reached through Debian's python3 (apache2-utils' htpasswd would also do).
      const r = await exec(['python3', '-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password])
      writeFileSync(join(dir, 'htpasswd'), `${username}:${r.stdout.trim()}\n`)
      authYaml = `auth:\n  htpasswd:\n    realm: skiff-test\n    path: ${join(dir, 'htpasswd')}\n`
    }
    if (auth === 'token') {
      await exec(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=skiff-test-token'])
      keyPem = readFileSync(join(dir, 'key.pem'), 'utf8')
      const pem = readFileSync(join(dir, 'cert.pem'), 'utf8')
      certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
      const tport = await freePort()
      tokenServer = createServer((req, res) => {
        const u = new URL(req.url ?? '/', 'http://x')
        if (req.headers.authorization !== basic) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}')
          return
        }
        tokens++
        const now = Math.floor(Date.now() / 1000)
        const access = u.searchParams.getAll('scope').flatMap(parseScope)
        const token = issueJwt(keyPem, certDer, { iss: issuer, sub: username, aud: u.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access })
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }))
      })
      await new Promise<void>((r) => tokenServer!.listen(tport, '127.0.0.1', r))
      authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${tport}/token\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${join(dir, 'cert.pem')}\n`
    }
    const yml = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n${authYaml}`
    writeFileSync(join(dir, 'config.yml'), yml)
    child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)))
    const t0 = Date.now()
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${stderr}`)
      try {
        const r = await request(`http://${host}/v2/`)
        await r.body.dump()
        if (r.statusCode === 200 || r.statusCode === 401) break
      } catch {
        /* not listening yet */
      }
      if (Date.now() - t0 > 15_000) throw new Error(`docker-registry did not come up: ${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  } catch (e) {
    child?.kill('SIGKILL')
    tokenServer?.close()
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  const proc = child
  return {
    host,
    url: `http://${host}`,
    auth,
    username,
    password,
    tokenRequests: () => tokens,
    async authHeader(repo, actions = 'pull,push') {
      if (auth === 'none') return undefined
      if (auth === 'basic') return basic
      const r = await request(`${tokenServer ? `http://127.0.0.1:${(tokenServer.address() as { port: number }).port}` : ''}/token?service=${service}&scope=repository:${repo}:${actions}`, { headers: { authorization: basic } })
      const j = (await r.body.json()) as { token: string }
      tokens-- // pushes are not the client under test
      return `Bearer ${j.token}`
    },
    async stop() {
      if (proc.exitCode === null && proc.pid) {
        process.kill(proc.pid, 'SIGTERM')
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            if (proc.exitCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL')
          }, 3000)
          proc.once('exit', () => (clearTimeout(t), r()))
        })
      }
      await new Promise<void>((r) => (tokenServer ? tokenServer.close(() => r()) : r()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
