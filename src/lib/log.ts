import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger(opts: { level?: string } = {}): Logger {
  return pino({ level: opts.level ?? process.env.SKIFF_LOG_LEVEL ?? 'info', base: undefined })
}

/** A logger that drops everything: for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' })
