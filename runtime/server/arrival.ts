import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { HostMonitor } from '../host/host-monitor.ts';
import { carriesRequestId } from './json-reply.ts';

/** What the edge notes about every request when it arrives (context variables). */
export interface ArrivalVariables {
  /** When the request reached the loop, less the loop's current lag (what it waited to be read), ms. */
  arrivalMs: number;
  /** The client's `x-request-id` when it is a sane token, else a new UUID; sent back on the reply. */
  requestId: string;
}

/** The client's request id when it is at most 255 characters of `[A-Za-z0-9_=-]` (what Hono's requestId accepts), else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && header.length > 0 && header.length <= 255 && !/[^\w\-=]/.test(header) ? header : randomUUID();
}

/** A request's arrival time on the loop: now, less the loop's standing lag. */
export function arrivalOf(host: HostMonitor, nowMs = performance.now()): number {
  return nowMs - host.view().lagMs;
}

/**
 * The first middleware: stamps the arrival and the request id, and counts the request toward the host
 * stage's cost per call (`arrival`, then `answered` once its reply is made).
 *
 * Behind @hono/node-server it reads the id from Node's parsed headers, and a reply made by `jsonReply` (the
 * hot routes and every error) carries it in its own header object. Any other reply gets it on Node's
 * response once the route has answered, which the adapter merges into the head it writes. Hono's own
 * requestId middleware reads `c.req.header()` and sets `c.header()`, which build a WHATWG Headers for the
 * request and for the reply, and a header set on Node's response before the reply makes Node merge every
 * reply header one `setHeader` at a time: each a measurable share of a served call in a profile. Without
 * Node (`app.request()`), it does the same through Hono.
 */
export function arrival(
  host: HostMonitor,
): MiddlewareHandler<{ Bindings: Partial<{ incoming: IncomingMessage; outgoing: ServerResponse }>; Variables: ArrivalVariables }> {
  return async (c, next) => {
    const now = performance.now();
    c.set('arrivalMs', arrivalOf(host, now));
    host.arrival(now);
    const outgoing = c.env?.outgoing;
    const id = requestIdFrom(outgoing ? c.env.incoming?.headers['x-request-id'] : c.req.header('x-request-id'));
    c.set('requestId', id);
    if (!outgoing) c.header('x-request-id', id);
    try {
      await next();
    } finally {
      host.answered();
      if (outgoing && !outgoing.headersSent && !carriesRequestId(outgoing)) outgoing.setHeader('x-request-id', id);
    }
  };
}
