import type { BatchPolicy } from '../types.ts';

/**
 * The policy the U_h bound describes: after each batch the lane waits `holdMs` before taking everything
 * waiting; a lane that went idle on an empty queue goes at once on the first arrival. A fixed hold is the
 * simulator's reference; the `slo` policy chooses the hold from the formula.
 */
export function holdPolicy(holdMs: number): BatchPolicy {
  if (!(holdMs >= 0)) throw new TypeError(`holdMs must be a number >= 0, got ${holdMs}`);
  return {
    name: 'greedy',
    decide(state) {
      if (state.holdStartMs === undefined || state.waiting.length >= state.maxBatch) return { dispatch: state.maxBatch };
      return { waitUntilMs: state.holdStartMs + holdMs };
    },
  };
}
