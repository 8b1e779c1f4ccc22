/**
 * The front door: a call to `POST /functions/:name` is admitted or refused on Node's request event, before
 * @hono/node-server builds a Request and Hono a Context for it.
 *
 * Under overload most calls are refusals, and a refusal that goes through the framework (adapter, router,
 * three middleware, a thrown error, onError, a Response object) cost the loop more than a served call in a
 * CPU profile: at three times capacity the loop then spent itself on 503s. Here a refusal is the door's
 * checks and one write of a short JSON, while the body it never reads flows past unparsed. An admitted call
 * goes on to Hono, which finds it with {@link FrontDoor.take} and serves it; a request this door does not
 * recognise goes on to Hono untouched, which makes the same checks itself (`app.request()` has no door).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadInputError, EdgebatchError } from '../errors.ts';
import type { AdmittedCall, Runtime } from '../runtime.ts';
import { arrivalOf, requestIdFrom } from './request-frame.ts';
import { writeErrorReply } from './error-reply.ts';
import { sloHeader, sloMsOf } from '../shared/edge-protocol.ts';
import type { InFlight } from './in-flight.ts';
import { skipBody } from './node-request.ts';
import { serverTimingTotal } from './server-timing.ts';

const route = '/functions/';

/**
 * Where the door leaves an admitted call for the route: a symbol-keyed field on Node's request (the adapter
 * marks requests the same way), cheaper per call than a WeakMap entry.
 */
const admitted = Symbol('edgebatch.admittedCall');
type Admitted = IncomingMessage & { [admitted]?: AdmittedCall };

/** The function a request target names as `/functions/<name>[?query]`, decoded, or undefined. */
export function invokedFunction(url: string | undefined): string | undefined {
  if (!url?.startsWith(route)) return undefined;
  const q = url.indexOf('?', route.length);
  const name = q < 0 ? url.slice(route.length) : url.slice(route.length, q);
  if (name.length === 0 || name.includes('/')) return undefined;
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

/** A request's optional `x-slo-ms` header: it may tighten a function's SLO for this call. */
export function requestSlo(value: string | string[] | undefined): number | undefined | BadInputError {
  if (value === undefined) return undefined;
  return sloMsOf(String(value)) ?? new BadInputError('bad_request', `x-slo-ms must be a positive number of ms, got "${value}"`);
}

/** What the door needs of the runtime: its admission, its host monitor and the body limit. */
export type DoorRuntime = Pick<Runtime, 'admit' | 'host' | 'config'>;

export class FrontDoor {
  readonly #rt: DoorRuntime;
  readonly #inFlight: InFlight;

  constructor(rt: DoorRuntime, inFlight: InFlight) {
    this.#rt = rt;
    this.#inFlight = inFlight;
  }

  /**
   * Screens one request. Returns true when it answered it (a refusal); false to pass it on to Hono, having
   * noted the call when it admitted one.
   */
  screen(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const name = invokedFunction(req.url);
    if (name === undefined) return false;
    const rt = this.#rt;
    const now = performance.now();
    const arrivalMs = arrivalOf(rt.host, now);
    const slo = requestSlo(req.headers[sloHeader]);
    const call = slo instanceof EdgebatchError ? slo : rt.admit(name, arrivalMs, slo);
    if (!(call instanceof EdgebatchError)) {
      (req as Admitted)[admitted] = call;
      return false;
    }
    rt.host.arrival(now);
    this.#refuse(req, res, call, arrivalMs);
    rt.host.answered();
    return true;
  }

  /** The call this door admitted for `req`, handed over once. */
  take(req: IncomingMessage | undefined): AdmittedCall | undefined {
    const call = (req as Admitted | undefined)?.[admitted];
    if (call) (req as Admitted)[admitted] = undefined;
    return call;
  }

  #refuse(req: IncomingMessage, res: ServerResponse, err: EdgebatchError, arrivalMs: number): void {
    // The body is never read: let it flow past so the connection's next request is read at once, unless it
    // is unbounded or over the limit, when the connection is closed after this reply instead.
    const declared = Number(req.headers['content-length']);
    const drain = declared <= this.#rt.config.limits.bodyBytes;
    if (drain) skipBody(req);
    const headers: Record<string, string> = {
      'server-timing': serverTimingTotal(arrivalMs),
      'x-request-id': requestIdFrom(req.headers['x-request-id']),
    };
    if (!drain || this.#inFlight.draining) headers.connection = 'close';
    writeErrorReply(res, err, headers);
  }
}
