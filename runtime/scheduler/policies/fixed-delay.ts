import type { BatchPolicy } from '../types.ts';

export interface FixedDelayOptions {
  /** Longest the oldest item may wait for the batch to fill. */
  maxQueueDelayMs: number;
  /** Dispatch at once when this many items wait. */
  preferredBatchSize: number;
}

/**
 * Triton's dynamic batcher: dispatch when the preferred batch size is reached or when the oldest item has
 * waited `maxQueueDelayMs`, whichever comes first. Blind to load and to deadlines: that is the point of comparing.
 */
export function fixedDelayPolicy({ maxQueueDelayMs, preferredBatchSize }: FixedDelayOptions): BatchPolicy {
  return {
    name: 'fixed-delay',
    decide(state) {
      if (state.waiting.length >= Math.min(preferredBatchSize, state.maxBatch)) return { dispatch: state.maxBatch };
      let oldest = Infinity;
      for (const it of state.waiting) oldest = Math.min(oldest, it.arrivalMs);
      return { waitUntilMs: oldest + maxQueueDelayMs };
    },
  };
}
