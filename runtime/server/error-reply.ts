import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  CancelledError,
  ClientGoneError,
  EdgebatchError,
  ModelUnavailableError,
  OverloadedError,
  PayloadTooLargeError,
} from '../errors.ts';
import type { Logger } from '../logger.ts';
import { withoutPaths } from '../without-paths.ts';
import { jsonReply } from './json-reply.ts';
import type { AppEnv } from './app-env.ts';
import { totalTiming } from './server-timing.ts';
import { errorBody, retryAfterSeconds } from '../shared/edge-protocol.ts';

/** The JSON body of an error reply; protocols differ in it (v2 wants `{ error: "message" }`), nothing else. */
export type ErrorBody = (code: string, message: string, details: Record<string, unknown> | undefined) => object;

/** The runtime's own error body (runtime/shared/edge-protocol.ts, which the edge writes too). */
const runtimeBody: ErrorBody = errorBody;

/** An {@link EdgebatchError} as a reply: status, the JSON body and the headers it implies. */
interface ErrorPayload {
  status: ContentfulStatusCode;
  body: object;
  headers: Record<string, string>;
}

/**
 * `{ error: { code, message, ...details } }` with the error's status; an overload carries `Retry-After`,
 * and a too-large body `Connection: close` (the rest of it is never read, so the connection cannot be reused
 * mid-body). Used by {@link errorReply} inside Hono and {@link writeErrorReply} outside it.
 */
function errorPayload(err: EdgebatchError, body: ErrorBody = runtimeBody): ErrorPayload {
  const headers: Record<string, string> = {};
  if (err instanceof OverloadedError) headers['retry-after'] = String(retryAfterSeconds(err.retryAfterSec));
  if (err instanceof PayloadTooLargeError) headers.connection = 'close';
  // A model that could not load may come back (a redeploy, a restart): say when to ask again.
  if (err instanceof ModelUnavailableError) headers['retry-after'] = '10';
  return {
    status: err.status as ContentfulStatusCode,
    body: body(err.code, withoutPaths(err.message), clientDetails(err.details)),
    headers,
  };
}

/**
 * An {@link EdgebatchError} written straight onto Node's response, outside Hono (a refusal at the front
 * door, a 413 before 100 Continue, the 503s of a shutdown cut short): the payload's headers, `headers`, and
 * the body's type and length, in one `writeHead`.
 */
export function writeErrorReply(res: ServerResponse, err: EdgebatchError, headers: Record<string, string>): void {
  const reply = errorPayload(err);
  const json = JSON.stringify(reply.body);
  // The payload's headers are this reply's own: completed in place (the door's path under overload).
  const all = Object.assign(reply.headers, headers);
  all['content-type'] = 'application/json';
  all['content-length'] = String(Buffer.byteLength(json));
  res.writeHead(reply.status, all);
  res.end(json);
}

/** An error's details as a client sees them: string facts without paths of this host (the log keeps them). */
function clientDetails(details: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!details) return details;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(details)) {
    if (typeof v !== 'string') continue;
    const safe = withoutPaths(v);
    if (safe !== v) (out ??= { ...details })[k] = safe;
  }
  return out ?? details;
}

/** True when the request's connection closed before its body was whole (Hono's own body readers throw then). */
function clientLeft(c: Context<AppEnv>): boolean {
  const incoming = c.env.incoming;
  return incoming !== undefined && incoming.destroyed && !incoming.complete;
}

/**
 * The one place errors become replies inside Hono (see {@link errorPayload}), the body written by `body`.
 * Anything that is not an {@link EdgebatchError} is a bug: 500 with an error id that is also logged.
 */
export function errorReply(c: Context<AppEnv>, err: unknown, log: Logger, body: ErrorBody = runtimeBody): Response {
  // Hono middleware (bearerAuth) throws its own HTTPException with a ready response.
  if (err instanceof HTTPException) return err.getResponse();
  const timing = totalTiming(c.env.arrivalMs);
  // A client that left mid-request (an aborted upload) is no failure of ours, and no one reads the reply.
  if (err instanceof CancelledError || clientLeft(c)) {
    log.debug({ requestId: c.env.requestId, path: c.req.path, err: err instanceof Error ? err.message : String(err) }, 'client went away');
    const gone = err instanceof CancelledError ? err : new ClientGoneError();
    return jsonReply(c, body(gone.code, gone.message, gone.details), gone.status as ContentfulStatusCode, timing);
  }
  if (err instanceof EdgebatchError) {
    // A server-side failure is logged with the request id the client saw, next to the error id it got.
    if (err.status >= 500 && !(err instanceof OverloadedError))
      log.error({ requestId: c.env.requestId, path: c.req.path, code: err.code, ...err.details, err: err.message }, 'request failed');
    const reply = errorPayload(err, body);
    return jsonReply(c, reply.body, reply.status, { ...reply.headers, ...timing });
  }
  const errorId = randomUUID();
  log.error(
    { errorId, requestId: c.env.requestId, err: err instanceof Error ? err.stack : String(err), path: c.req.path },
    'unhandled error',
  );
  return jsonReply(c, body('internal', 'internal error', { errorId }), 500, timing);
}
