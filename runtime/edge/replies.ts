import { errorBody, retryAfterSeconds } from '../shared/edge-protocol.ts';

/** A reply the edge writes itself, with the runtime's error body (shared/edge-protocol.ts). */
function errorJson(
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(errorBody(code, message, details)), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** 503 + Retry-After: no origin can take the call within what is left of its budget. */
export function overloaded(message: string, retryAfterMs: number, details: Record<string, unknown> = {}): Response {
  const retryAfterSec = retryAfterSeconds(retryAfterMs / 1000);
  return errorJson(503, 'overloaded', message, { ...details, retryAfterSec }, { 'retry-after': String(retryAfterSec) });
}

/** 413: the body is over the limit a Worker can take. */
export function payloadTooLarge(limitBytes: number): Response {
  return errorJson(413, 'payload_too_large', `request body is larger than the limit of ${limitBytes} bytes`, { limitBytes });
}

export function notFound(method: string, path: string): Response {
  return errorJson(404, 'not_found', `no route ${method} ${path}`, {});
}

/** 500: the edge itself is misconfigured (a bad var); says which. */
export function misconfigured(message: string): Response {
  return errorJson(500, 'edge_misconfigured', message, {});
}
