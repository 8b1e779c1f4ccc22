import { CancelledError } from '../errors.ts';

/** How the HTTP edge tells the batcher that a client went away: cheaper than an AbortSignal per call. */
export interface Cancellation {
  readonly cancelled: boolean;
  /** Calls `fn` once when the client goes away; the returned function stops listening. */
  onCancel(fn: () => void): () => void;
}

/** What an item's promise settles with; the batcher resolves or rejects it once. */
export interface Settle<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

/**
 * Ties a queued item to its client's cancellation: when the client goes away, `leave` takes the item out of
 * the queue (false when it was already dispatched, which then runs to its end) and the item is rejected with
 * a {@link CancelledError}, costing no device time; `left` then runs. Returns the settle functions to store
 * with the item, which also stop listening once it settles; or undefined when the client has already gone
 * (rejected at once, never queued).
 */
export function settleOnCancel<T>(
  cancel: Cancellation | undefined,
  settle: Settle<T>,
  leave: () => boolean,
  left: () => void,
): Settle<T> | undefined {
  if (!cancel) return settle;
  if (cancel.cancelled) {
    settle.reject(new CancelledError('client went away before dispatch'));
    return undefined;
  }
  const stop = cancel.onCancel(() => {
    if (!leave()) return;
    settle.reject(new CancelledError('client went away before dispatch'));
    left();
  });
  return {
    resolve: (v) => (stop(), settle.resolve(v)),
    reject: (e) => (stop(), settle.reject(e)),
  };
}

/** An AbortSignal (the embedding API) as a {@link Cancellation}. */
export function fromAbortSignal(signal: AbortSignal): Cancellation {
  return {
    get cancelled() {
      return signal.aborted;
    },
    onCancel(fn) {
      signal.addEventListener('abort', fn, { once: true });
      return () => signal.removeEventListener('abort', fn);
    },
  };
}
