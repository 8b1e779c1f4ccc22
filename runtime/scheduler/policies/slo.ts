import { holdForObjective, joulesPerInference } from '../formula.ts';
import type { BatchPolicy, QueueState } from '../types.ts';

/**
 * The hold the formula allows right now, in ms: h* = max(0, (S - U(lambda)) * 2(1 - rho) / (1 + 2 rho)),
 * from the fitted cost, the live rate and the model's mean-latency objective. 0 before a fit exists.
 */
export function currentHoldMs(state: Pick<QueueState, 'context' | 'waiting' | 'nowMs'>): number {
  const { cost, objectiveMs, marginMs, measuredMeanMs, recentLateShare, power } = state.context;
  if (!cost) return 0;
  // Feedback first. Items already wait longer than the objective, or more than 1% finish late: the model
  // is missing a cost (a shared CPU, a busy event loop), so there is no slack to spend on a hold.
  if (measuredMeanMs !== undefined && measuredMeanMs > objectiveMs) return 0;
  if (recentLateShare !== undefined && recentLateShare > maxLateShare) return 0;
  const rate = Math.max(state.context.ratePerSec, queueRatePerSec(state));
  const c = { alpha: cost.alphaMs / 1000, tau0: cost.tau0Ms / 1000 };
  // Aim the mean a margin below the objective: U_h is exact at moderate load, so aiming at S itself would
  // land on it only on average.
  const hold = holdForObjective(rate, c, Math.max(0, objectiveMs - marginMs) / 1000);
  // A hold buys energy with latency; where batching saves (almost) nothing - tau0 near 0, as for a
  // small CNN on one CPU thread - latency is all it would cost.
  if (hold > 0 && power && rate > 0) {
    const saving = 1 - joulesPerInference(rate, c, power, hold) / joulesPerInference(rate, c, power, 0);
    if (!(saving >= minEnergySaving)) return 0;
  }
  return 1000 * hold;
}

/** Above this share of recent items finishing late, the slo policy stops holding. */
export const maxLateShare = 0.01;

/** A hold must cut modelled joules per inference by at least this much to be worth its latency. */
export const minEnergySaving = 0.05;

/**
 * The arrival rate the waiting items show by themselves: n items that arrived since the oldest one, over
 * its age. The live rate meter looks back about a second, so in a burst it lags; this sees the burst as it
 * piles up. With fewer than two items it says nothing (0).
 */
export function queueRatePerSec(state: Pick<QueueState, 'waiting' | 'nowMs'>): number {
  const n = state.waiting.length;
  if (n < 2) return 0;
  let oldest = Infinity;
  for (const it of state.waiting) oldest = Math.min(oldest, it.arrivalMs);
  const ageMs = state.nowMs - oldest;
  return ageMs > 0 ? (1000 * (n - 1)) / ageMs : 0;
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
 * time; a full batch, or an idle lane meeting its first arrival, goes at once. The rate in h* is the larger
 * of the live meter and the queue's own rate, so a burst shortens the hold while it builds up.
 */
export const sloPolicy: BatchPolicy = {
  name: 'slo',
  decide(state) {
    if (state.holdStartMs === undefined || state.waiting.length >= state.maxBatch) return { dispatch: state.maxBatch };
    const until = Math.min(state.holdStartMs + currentHoldMs(state), latestSafeDispatchMs(state));
    return until <= state.nowMs ? { dispatch: state.maxBatch } : { waitUntilMs: until };
  },
};
