import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON-lines logger (pino). `LOG_LEVEL=silent` quiets tests. With `pretty` (what `dev` asks for on a
 * terminal) lines are made readable by pino-pretty, synchronously on this thread: a development aid, loaded
 * only then.
 */
export function createLogger(level: string, pretty = false): Logger {
  const options = { level, base: { service: 'edgebatch' } };
  if (!pretty) return pino(options);
  const prettyStream = createRequire(import.meta.url)('pino-pretty') as (opts: object) => DestinationStream;
  return pino(options, prettyStream({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }));
}
