/**
 * What every request gets around the app, as a wrapper of its `fetch` rather than Hono middleware: its
 * arrival time and request id (as bindings, `c.env.arrivalMs` and `c.env.requestId`), its place in the
 * count of requests being handled, the host stage's count of calls answered, and on the way out the
 * request id and, while the server drains, `Connection: close`.
 *
 * Why not middleware: Hono runs a route that is the only handler matching a request by calling it, and
 * only composes when more match. Two `app.use` middleware made every request a composition (a dispatch
 * frame per handler, a closure per `next`, an async wrapper), each frame held through the call's wait in
 * the queue (near 4% of the main thread per call in a one-off comparison of two Hono apps holding their
 * calls as the batcher does; README, host path). Outside Hono, the hot routes (`POST /functions/:name`, the v2 infer) are single
 * handlers again, while the access log (`accessLog`, an `app.use` middleware) is off. `app.request()` goes through `fetch` too, so tests see the same frame.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HostMonitor } from '../host/host-monitor.ts';
import type { InFlight } from './in-flight.ts';
import { carriesRequestId } from './json-reply.ts';

/** What the frame notes about every request when it arrives (the app's bindings, next to Node's objects). */
export interface ArrivalBindings {
  /** When the request reached the loop, less the loop's current lag (what it waited to be read), ms. */
  arrivalMs: number;
  /** The client's `x-request-id` when it is a sane token, else a new UUID; sent back on the reply. */
  requestId: string;
}

/** The bindings the frame hands the app: Node's objects behind @hono/node-server (none in `app.request()`). */
type FrameEnv = Partial<{ incoming: IncomingMessage; outgoing: ServerResponse }> & Partial<ArrivalBindings>;

/** A Hono app's `fetch`, as the frame wraps it. */
export type Fetch = (request: Request, env?: any, executionCtx?: any) => Response | Promise<Response>;

/** The client's request id when it is at most 255 characters of `[A-Za-z0-9_=-]` (what Hono's requestId accepts), else a new one. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  return typeof header === 'string' && header.length > 0 && header.length <= 255 && !/[^\w\-=]/.test(header) ? header : randomUUID();
}

/** A request's arrival time on the loop: now, less the loop's standing lag. */
export function arrivalOf(host: HostMonitor, nowMs = performance.now()): number {
  return nowMs - host.view().lagMs;
}

/**
 * Wraps `fetch` (the app's own) in the frame. Behind @hono/node-server the request id is read from Node's
 * parsed headers, never from the Request (which would make the adapter build a full WHATWG one), and it
 * reaches Node's response either in the reply's own header object (`jsonReply`, the hot routes and every
 * error) or, for any other reply, with one `setHeader` after the route answered.
 */
export function framed(fetch: Fetch, host: HostMonitor, inFlight: InFlight): Fetch {
  // Every request that entered is answered exactly once, whichever way its fetch ends.
  const answered = () => {
    host.answered();
    inFlight.leave();
  };
  const leave = (env: FrameEnv, res: Response): Response => {
    answered();
    const { outgoing } = env;
    if (outgoing) {
      if (!outgoing.headersSent) {
        if (!carriesRequestId(outgoing)) outgoing.setHeader('x-request-id', env.requestId!);
        if (inFlight.draining) outgoing.setHeader('connection', 'close');
      }
    } else {
      setIfMutable(res, 'x-request-id', env.requestId!, false);
      if (inFlight.draining) setIfMutable(res, 'connection', 'close', true);
    }
    return res;
  };
  return (request, env: FrameEnv = {}, executionCtx) => {
    const now = performance.now();
    env.arrivalMs = arrivalOf(host, now);
    env.requestId = requestIdFrom(env.incoming ? env.incoming.headers['x-request-id'] : request.headers.get('x-request-id'));
    host.arrival(now);
    inFlight.enter();
    let res: Response | Promise<Response>;
    try {
      res = fetch(request, env, executionCtx);
    } catch (err) {
      answered();
      throw err;
    }
    if (!(res instanceof Promise)) return leave(env, res);
    return res.then(
      (r) => leave(env, r),
      (err: unknown) => {
        answered();
        throw err;
      },
    );
  };
}

/** Sets a header on a reply made without Node, unless it has one (or, with `replace`, always); some replies' headers are immutable. */
function setIfMutable(res: Response, name: string, value: string, replace: boolean): void {
  try {
    if (replace || !res.headers.has(name)) res.headers.set(name, value);
  } catch {
    // A Response whose headers are immutable (a redirect, a fetched one) keeps them.
  }
}
