import { holdForObjective } from '../formula.ts';
import type { BatchPolicy, QueueState } from '../types.ts';

/**
 * The hold the formula allows right now, in ms: h* = max(0, (S - U(lambda)) * 2(1 - rho) / (1 + 2 rho)),
 * from the fitted cost, the live rate and the model's mean-latency objective. 0 before a fit exists.
 */
export function currentHoldMs(state: Pick<QueueState, 'context'>): number {
  const { cost, ratePerSec, objectiveMs } = state.context;
  if (!cost) return 0;
  return 1000 * holdForObjective(ratePerSec, { alpha: cost.alphaMs / 1000, tau0: cost.tau0Ms / 1000 }, objectiveMs / 1000);
}

/**
 * The latest moment the earliest-deadline item can still be dispatched: its deadline minus the predicted
 * run time of the batch it would ride in, minus the margin.
 */
export function latestSafeDispatchMs(state: QueueState): number {
  const b = Math.min(state.waiting.length, state.maxBatch);
  const run = state.context.predictMs(b) ?? 0;
  return state.waiting[0].deadlineMs - run - state.context.marginMs;
}

/**
 * Ours: the energy-and-latency-aware hold. After a batch the lane holds for h* (longer holds mean larger
 * batches and fewer joules per inference, seed 004) but never past the earliest deadline's safe dispatch
 * time; a full batch, or an idle lane meeting its first arrival, goes at once.
 */
export const sloPolicy: BatchPolicy = {
  name: 'slo',
  decide(state) {
    if (state.holdStartMs === undefined || state.waiting.length >= state.maxBatch) return { dispatch: state.maxBatch };
    const until = Math.min(state.holdStartMs + currentHoldMs(state), latestSafeDispatchMs(state));
    return until <= state.nowMs ? { dispatch: state.maxBatch } : { waitUntilMs: until };
  },
};
