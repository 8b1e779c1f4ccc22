import { retryAfterSeconds } from '../shared/edge-protocol.ts';
import { meanLatencyBound, type BatchCost } from './formula.ts';

/** What admission control knows about a model's queue when a call arrives; ms and per second. */
export interface AdmissionInput {
  nowMs: number;
  /** The new call's deadline. */
  deadlineMs: number;
  /** Items already waiting that will be served before it (earliest deadline first). */
  itemsAhead: number;
  /** Device time still owed to the batches running now. */
  runningRemainingMs: number;
  maxBatch: number;
  lanes: number;
  /** Predicted device time of a batch of b items; undefined without a fit (then every call is admitted). */
  predictMs(b: number): number | undefined;
  cost: BatchCost | undefined;
  ratePerSec: number;
  objectiveMs: number;
  /**
   * Mean time a call spends in the host stage now (its own host time and the loop's lag before and after
   * its batch), ms: added to the device's bound for the mean check. Default 0.
   */
  hostMeanMs?: number;
  /**
   * The event loop's lag now, ms, and the most a call may meet (default: no limit). Over it the loop is
   * saturated: requests queue in the kernel ahead of it, every call waits, and a call admitted now would
   * only add to the backlog. Checked first, before anything about the device.
   */
  hostLagMs?: number;
  hostLagBudgetMs?: number;
  /** Shed when U(rate) plus the host stage's mean exceeds the objective by more than this factor. */
  overloadFactor: number;
  /**
   * Event-loop time the call still needs outside the device, waiting included, ms: its pre (when checked
   * at the door), the loop's lag it meets after its batch, and its post and reply. Default 0.
   */
  extraMs?: number;
  /**
   * After `pre`: the call's own host work, ms, measured while no other call's work ran beside it (undefined
   * when some did, or at the door), and its SLO. With both, a call that would be refused and whose own work
   * and its batch alone on the device add up to more than its SLO is refused as never fitting.
   */
  ownHostMs?: number;
  sloMs?: number;
}

/**
 * A refusal's `neverFits` says the call's own cost exceeds its SLO even on an idle runtime: no retry can
 * help (the runtime answers it 422, without Retry-After, and `retryAfterSec` is 0).
 */
export type AdmissionDecision =
  { admit: true; predictedDoneMs: number | undefined } | { admit: false; reason: string; retryAfterSec: number; neverFits?: true };

/**
 * Decides at arrival whether a call can still meet its deadline, so an overloaded runtime answers 503 at
 * once instead of a late 200. Two tests: (1) the call's predicted completion, after the host work it still
 * needs and the batches ahead of it in EDF order, is past its deadline; (2) the formula's mean-latency bound
 * of the whole path at the live rate (device bound plus the host stage's mean) is over the objective times
 * `overloadFactor` (or the load is unstable, rho >= 1). After `pre`, a call refused by (1) whose own cost alone
 * (its measured host work and its batch alone; nothing learnt) exceeds its SLO is marked `neverFits`.
 */
export function admit(input: AdmissionInput): AdmissionDecision {
  const { predictMs, maxBatch, lanes } = input;
  // The host stage first: a saturated loop delays every call it has not read yet, so while its lag is over
  // the budget, calls are refused at the door, where a refusal costs little, until the backlog clears.
  const lag = input.hostLagMs ?? 0;
  if (lag > (input.hostLagBudgetMs ?? Infinity)) {
    return {
      admit: false,
      reason: `the event loop is saturated: requests wait ${lag.toFixed(1)} ms to be read, over the ${input.hostLagBudgetMs!.toFixed(1)} ms allowed`,
      retryAfterSec: 1,
    };
  }
  const full = predictMs(maxBatch);
  if (full === undefined) return { admit: true, predictedDoneMs: undefined };
  // An idle model always takes a call whose deadline has not passed: predictions alone never refuse the
  // best case, and the batch it runs keeps the cost fit learning (a bad fit must not shed itself forever).
  // Learnt host times are not trusted here either: after an overload they can say every call is late,
  // and as only served calls update them, they would never be corrected (the bench saw a trickle after a
  // 3x overload refused whole). The live lag, checked above, is a measurement, not something learnt.
  const extra = input.extraMs ?? 0;
  const idle = input.itemsAhead === 0 && input.runningRemainingMs === 0;
  if (idle && input.nowMs < input.deadlineMs) return { admit: true, predictedDoneMs: input.nowMs + extra + predictMs(1)! };
  // Past the idle case, so a fit that predicts too much refuses no more calls than it did, and an idle
  // model still serves (and learns from) the best case.
  if (input.ownHostMs !== undefined && input.sloMs !== undefined) {
    // Its own measured host work and its batch alone, and nothing learnt: the learnt post time is an average
    // taken while the loop was busy, and would call a busy runtime an expensive input (a 422 no one retries).
    const deviceMs = predictMs(1)!;
    const ownMs = input.ownHostMs + deviceMs;
    if (ownMs > input.sloMs) {
      return {
        admit: false,
        neverFits: true,
        reason: `its own work takes ${Math.round(ownMs)} ms even on an idle runtime (${Math.round(input.ownHostMs)} ms to prepare, ${deviceMs.toFixed(1)} ms on the device), more than its SLO of ${input.sloMs} ms`,
        retryAfterSec: 0,
      };
    }
  }
  const batchesAhead = Math.floor(input.itemsAhead / maxBatch);
  const mine = predictMs(Math.min(maxBatch, (input.itemsAhead % maxBatch) + 1))!;
  const waitMs = extra + input.runningRemainingMs / lanes + (batchesAhead * full) / lanes;
  const doneMs = input.nowMs + waitMs + mine;
  const retryAfterSec = retryAfterSeconds((waitMs + mine) / 1000);
  if (doneMs > input.deadlineMs) {
    return {
      admit: false,
      reason: `predicted to finish ${Math.round(doneMs - input.nowMs)} ms from now (${input.itemsAhead} items ahead), after its deadline ${Math.round(input.deadlineMs - input.nowMs)} ms from now`,
      retryAfterSec,
    };
  }
  if (input.cost) {
    const boundMs = 1000 * meanLatencyBound(input.ratePerSec, input.cost) + (input.hostMeanMs ?? 0);
    if (!(boundMs <= input.objectiveMs * input.overloadFactor)) {
      const shown = Number.isFinite(boundMs) ? `${boundMs.toFixed(1)} ms` : 'unbounded (arrivals exceed capacity)';
      return {
        admit: false,
        reason: `predicted mean latency at ${input.ratePerSec.toFixed(0)}/s is ${shown}, over ${input.overloadFactor}x the objective ${input.objectiveMs.toFixed(1)} ms`,
        retryAfterSec,
      };
    }
  }
  return { admit: true, predictedDoneMs: doneMs };
}
