/**
 * What a route that makes a call from a request body (a function call, a v2 infer) takes from its request,
 * written once: its
 * arrival, its `x-slo-ms`, the client going away, and a body read only after the call is admitted at the
 * door, so a call shed under overload costs no body read.
 */
import type { Context } from 'hono';
import type { HostStageTotals } from '../host/host-stages.ts';
import type { InvokeOptions } from '../runtime.ts';
import type { AppEnv } from './app-env.ts';
import { requestSlo } from './front-door.ts';
import { cancellationOf, readBody, skipBody } from './node-request.ts';
import { sloHeader } from '../shared/edge-protocol.ts';

/** One call's request, read lazily. */
export class CallRequest {
  readonly #c: Context<AppEnv>;
  readonly #limitBytes: number;
  readonly #stages: HostStageTotals;
  #bodyRead = false;

  constructor(c: Context<AppEnv>, limitBytes: number, stages: HostStageTotals) {
    this.#c = c;
    this.#limitBytes = limitBytes;
    this.#stages = stages;
  }

  /** A request header, from Node's request when there is one (no WHATWG Request built). */
  header(name: string): string | undefined {
    const { incoming } = this.#c.env ?? {};
    const v = incoming ? incoming.headers[name] : this.#c.req.header(name);
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** Arrival, the request's SLO and the client's cancellation, as the runtime's invoke methods take them. */
  options(): Pick<InvokeOptions, 'arrivalMs' | 'sloMs' | 'cancel' | 'signal'> {
    // One literal of fixed shape, no spread: V8 defines a property after a spread through its slow path.
    const { cancel, signal } = this.cancellation();
    return { arrivalMs: this.#c.env.arrivalMs, sloMs: this.sloMs(), cancel, signal };
  }

  /** The request's own `x-slo-ms`, if any; a malformed one is a 400. */
  sloMs(): number | undefined {
    const sloMs = requestSlo(this.header(sloHeader));
    if (sloMs instanceof Error) throw sloMs;
    return sloMs;
  }

  /** The client's going away: from Node's response (no AbortSignal built), or the Request's signal without Node. */
  cancellation(): Pick<InvokeOptions, 'cancel' | 'signal'> {
    const { outgoing } = this.#c.env ?? {};
    return outgoing ? { cancel: cancellationOf(outgoing) } : { signal: this.#c.req.raw.signal };
  }

  /**
   * The whole body, within the body limit (413 past it); timed as the host stage `read`. Not an async
   * function: behind Node the reader's own promise is the answer, one promise and turn fewer per call.
   */
  body(): Promise<Buffer> {
    this.#bodyRead = true;
    const { incoming } = this.#c.env ?? {};
    if (incoming) return readBody(incoming, this.#limitBytes, this.#stages);
    const t = performance.now();
    return this.#c.req.arrayBuffer().then((bytes) => {
      this.#stages.add('read', performance.now() - t);
      return Buffer.from(bytes);
    });
  }

  /** Runs a check that must pass before the body is read; when it throws, the unread body flows past. */
  beforeBody<T>(check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (!this.#bodyRead) skipBody(this.#c.env?.incoming);
      throw err;
    }
  }

  /**
   * Runs a call; when it is refused before its body was read, lets the bytes flow past unparsed at once, so
   * the connection's next request is read without delay and the connection stays open.
   */
  async run<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (!this.#bodyRead) skipBody(this.#c.env?.incoming);
      throw err;
    }
  }
}
