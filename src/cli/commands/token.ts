import { join } from 'node:path'
import { SkiffError } from '../../lib/errors.js'
import { TokenFile } from '../../lib/token.js'
import { defineCommand } from '../command.js'

export default defineCommand({
  usage: '[--rotate] [--data-dir DIR]',
  local: true,
  flags: {
    rotate: { type: 'boolean', help: 'replace the token (TCP clients with the old one are refused at once)' },
    'data-dir': { type: 'string', value: 'DIR', help: 'the daemon\'s data dir (SKIFF_DATA_DIR, default /var/lib/skiff)' },
  },
  args: { max: 0 },
  async run({ flags: f }) {
    const dir = (f['data-dir'] as string | undefined) ?? process.env.SKIFF_DATA_DIR ?? '/var/lib/skiff'
    const t = new TokenFile(join(dir, 'token'))
    try {
      if (f.rotate) t.write(TokenFile.generate())
      else t.ensure()
      process.stdout.write(t.current() + '\n')
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      const why = err.code === 'ENOENT' ? 'no such directory' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message)
      throw new SkiffError('failed_precondition', 'TOKEN_UNAVAILABLE', `token: cannot ${f.rotate ? 'write' : 'read'} ${t.path}: ${why} (is --data-dir / SKIFF_DATA_DIR the daemon's data dir?)`, { cause: e })
    }
    return 0
  },
})
