/**
 * The incoming request as @hono/node-server hands it to the app (`c.env.incoming` / `c.env.outgoing`):
 * reading a body and noticing a client that went away straight from Node's objects. Touching
 * `c.req.raw.body` or `c.req.raw.signal` instead makes the adapter build a full WHATWG Request with web
 * streams and an AbortController per call, which cost about a quarter of the event loop in a profile.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Cancellation } from '../batching/cancellation.ts';
import { ClientGoneError, PayloadTooLargeError } from '../errors.ts';

/** What @hono/node-server passes as the app's `env`. */
export interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/**
 * Reads the whole body, refusing more than `limitBytes` (413): at once when Content-Length says so, else as
 * soon as the bytes read pass it. A too-large body is never buffered.
 */
export function readBody(incoming: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > limitBytes) return Promise.reject(new PayloadTooLargeError(limitBytes));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return done(new PayloadTooLargeError(limitBytes));
      chunks.push(chunk);
    };
    const onEnd = () => done();
    // A request that ends before its body is whole is the client's leaving (or its time running out, see
    // limits.requestTimeout): the connection is gone, there is no one to answer, and it is not a failure here.
    const onError = (err: Error) => done(incoming.complete ? err : new ClientGoneError());
    const onClose = () => {
      if (!incoming.complete) done(new ClientGoneError());
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
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
    const onClose = () => {
      if (!outgoing.writableFinished) fn();
    };
    // 'close' comes once per response: `on` saves the wrapper `once` allocates per call.
    outgoing.on('close', onClose);
    return () => outgoing.off('close', onClose);
  }
}

/** The client's going away, as the batcher's {@link Cancellation}. */
export function cancellationOf(outgoing: ServerResponse): Cancellation {
  return new ResponseCancellation(outgoing);
}
