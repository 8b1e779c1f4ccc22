/**
 * The incoming request as @hono/node-server hands it to the app (`c.env.incoming` / `c.env.outgoing`):
 * reading a body and noticing a client that went away straight from Node's objects. Touching
 * `c.req.raw.body` or `c.req.raw.signal` instead makes the adapter build a full WHATWG Request with web
 * streams and an AbortController per call, which cost about a quarter of the event loop in a profile.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cancellation } from '../batching/cancellation.ts';
import { ClientGoneError, PayloadTooLargeError } from '../errors.ts';
import type { HostStageTotals } from '../host/host-stages.ts';

/** What @hono/node-server passes as the app's `env`. */
export interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/**
 * Reads the whole body, refusing more than `limitBytes` (413): at once when Content-Length says so, else as
 * soon as the bytes read pass it. A too-large body is never buffered. With `stages`, a whole read (from here
 * to the last byte) is added to the host stage `read`; a failed one is not, as before it was timed here.
 */
export function readBody(incoming: IncomingMessage, limitBytes: number, stages?: Pick<HostStageTotals, 'add'>): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > limitBytes) return Promise.reject(new PayloadTooLargeError(limitBytes));
  const startedMs = stages ? performance.now() : 0;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // The listeners are left on the request, which they do not outlive; the flag makes a late one a no-op
    // (removing four listeners per call cost more than the calls they would have made).
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) return reject(err);
      stages?.add('read', performance.now() - startedMs);
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    incoming.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limitBytes) return done(new PayloadTooLargeError(limitBytes));
      chunks.push(chunk);
    });
    incoming.on('end', () => done());
    // A request that ends before its body is whole is the client's leaving (or its time running out, see
    // limits.requestTimeout): the connection is gone, there is no one to answer, and it is not a failure here.
    incoming.on('error', (err: Error) => done(incoming.complete ? err : new ClientGoneError()));
    incoming.on('close', () => {
      if (!incoming.complete) done(new ClientGoneError());
    });
  });
}

/**
 * Lets the body of a request that will not be read flow past unparsed (a call refused before its body was
 * read), so the connection's next request is read at once and the connection stays open.
 */
export function skipBody(incoming: IncomingMessage | undefined): void {
  if (incoming && !incoming.readableEnded) incoming.resume();
}

/**
 * The client's going away, from the response's `close` before it finished: one listener, no AbortSignal.
 * A class, so a call allocates one object (a literal with a getter and a method allocates its functions).
 */
class ResponseCancellation implements Cancellation {
  readonly #outgoing: ServerResponse;
  constructor(outgoing: ServerResponse) {
    this.#outgoing = outgoing;
  }
  get cancelled(): boolean {
    return this.#outgoing.destroyed && !this.#outgoing.writableFinished;
  }
  onCancel(fn: () => void): () => void {
    const outgoing = this.#outgoing;
    let listening = true;
    // 'close' comes once per response, soon after the reply: the listener stays until then, and stopping
    // only turns it off (removing it from the response's listeners cost more, per call, than leaving it).
    outgoing.on('close', () => {
      if (listening && !outgoing.writableFinished) fn();
    });
    return () => {
      listening = false;
    };
  }
}

/** The client's going away, as the batcher's {@link Cancellation}. */
export function cancellationOf(outgoing: ServerResponse): Cancellation {
  return new ResponseCancellation(outgoing);
}
