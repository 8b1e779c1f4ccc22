import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON-lines logger (pino). `LOG_LEVEL=silent` quiets tests. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'edgebatch' } });
}
