import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { EdgebatchError, OverloadedError, PayloadTooLargeError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** The JSON body of an error reply; protocols differ in it (v2 wants `{ error: "message" }`), nothing else. */
export type ErrorBody = (code: string, message: string, details: Record<string, unknown> | undefined) => object;

/** The runtime's own error body: `{ error: { code, message, ...details } }`. */
const runtimeBody: ErrorBody = (code, message, details) => ({ error: { code, message, ...details } });

/**
 * The one place errors become replies, with the error's status and its body written by `body`.
 * Anything that is not an {@link EdgebatchError} is a bug: 500 with an error id that is also logged.
 */
export function errorReply(c: Context, err: unknown, log: Logger, body: ErrorBody = runtimeBody): Response {
  // Hono middleware (bearerAuth) throws its own HTTPException with a ready response.
  if (err instanceof HTTPException) return err.getResponse();
  if (err instanceof EdgebatchError) {
    // A server-side failure is logged with the request id the client saw, next to the error id it got.
    if (err.status >= 500 && !(err instanceof OverloadedError)) log.error({ requestId: c.get('requestId'), path: c.req.path, code: err.code, ...err.details, err: err.message }, 'request failed');
    if (err instanceof OverloadedError) c.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSec))));
    // The rest of a too-large body is never read: close the connection instead of reusing it mid-body.
    if (err instanceof PayloadTooLargeError) c.header('Connection', 'close');
    return c.json(body(err.code, err.message, err.details), err.status as ContentfulStatusCode);
  }
  const errorId = randomUUID();
  log.error({ errorId, requestId: c.get('requestId'), err: err instanceof Error ? err.stack : String(err), path: c.req.path }, 'unhandled error');
  return c.json(body('internal', 'internal error', { errorId }), 500);
}
