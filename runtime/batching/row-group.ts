import type { ItemFeeds } from './batch-feeds.ts';
import type { Cancellation } from './cancellation.ts';
import type { BatchOutcome, ModelBatcher } from './model-batcher.ts';

/**
 * The rows of one call (a v2 request of batch dimension n) as n ordinary items of the model's queue, so they
 * batch with every other call on the model, functions included, through the one batching path. The call
 * settles when every row has: its outcomes in row order, or the first failure. On a failure (a row expired
 * with 503, its batch failed) or the client going away, the rows still waiting leave the queue at once and
 * cost no device time.
 */
export async function submitRows(
  batcher: ModelBatcher,
  rows: readonly ItemFeeds[],
  caller: string,
  arrivalMs: number,
  deadlineMs: number,
  client: Cancellation | undefined,
  shed: boolean,
): Promise<BatchOutcome[]> {
  const group = new GroupCancellation(client);
  try {
    return await Promise.all(rows.map((feeds) => batcher.submit(feeds, caller, arrivalMs, deadlineMs, group, shed)));
  } catch (err) {
    group.cancel();
    throw err;
  } finally {
    group.detach();
  }
}

/** One cancellation for a call's rows: the client's, or the group giving up after a failed row. */
class GroupCancellation implements Cancellation {
  #cancelled = false;
  readonly #client: Cancellation | undefined;
  readonly #listeners = new Set<() => void>();
  // One listener on the client for the whole group, not one per row.
  readonly #stop: (() => void) | undefined;

  constructor(client: Cancellation | undefined) {
    this.#client = client;
    this.#stop = client?.onCancel(() => this.cancel());
  }

  get cancelled(): boolean {
    return this.#cancelled || (this.#client?.cancelled ?? false);
  }

  onCancel(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    for (const fn of [...this.#listeners]) fn();
  }

  detach(): void {
    this.#stop?.();
    this.#listeners.clear();
  }
}
