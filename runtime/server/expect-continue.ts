/**
 * `Expect: 100-continue`: a client asks before it sends its body. Node answers 100 Continue to every such
 * request unless the server handles `checkContinue`; here a request whose Content-Length is over the limit
 * of its route is answered 413 at once instead, so the client never sends a body that would be refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PayloadTooLargeError } from '../errors.ts';
import { requestIdFrom } from './request-frame.ts';
import { writeErrorReply } from './error-reply.ts';

/** The body limits of the routes: uploads under /admin, every other body. */
export interface BodyLimits {
  readonly bodyBytes: number;
  readonly uploadBytes: number;
}

/** The body limit of the route a request goes to. */
export function bodyLimitOf(url: string | undefined, limits: BodyLimits): number {
  return url?.startsWith('/admin/') ? limits.uploadBytes : limits.bodyBytes;
}

/**
 * Answers 413 (and returns true) when the request declares a body over its route's limit; otherwise
 * tells the client to go on (100 Continue) and returns false, for the request to be served as any other.
 */
export function refuseOrContinue(req: IncomingMessage, res: ServerResponse, limits: BodyLimits): boolean {
  const limit = bodyLimitOf(req.url, limits);
  if (Number(req.headers['content-length']) > limit) {
    writeErrorReply(res, new PayloadTooLargeError(limit), { 'x-request-id': requestIdFrom(req.headers['x-request-id']) });
    return true;
  }
  res.writeContinue();
  return false;
}
