import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../logger.ts';
import type { AppEnv } from './app-env.ts';

/**
 * One access line per request Hono answers (method, path, status, ms from arrival, request id), at `level`.
 * The child logger is made once, and when its level is off there is no middleware at all, so the default
 * `start` (access lines at `debug`, log level `info`) pays nothing per call. Calls the front door answers
 * before Hono runs (a 503 at admission, a 404 for an unknown function) are counted in the metrics, not
 * logged here.
 */
export function accessLog(log: Logger, level: 'debug' | 'info'): MiddlewareHandler<AppEnv> | undefined {
  const access = log.child({ log: 'access' });
  if (!access.isLevelEnabled(level)) return undefined;
  return async (c, next) => {
    await next();
    access[level](
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - c.env.arrivalMs) * 10) / 10,
        requestId: c.env.requestId,
      },
      'request',
    );
  };
}
