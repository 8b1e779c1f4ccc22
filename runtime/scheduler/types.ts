import type { PolicyName } from '../config.ts';

/** An item waiting in a model's queue. The scheduler reads only the times; `payload` is the caller's. */
export interface Pending<T> {
  readonly payload: T;
  /** When the invocation arrived (ms on the queue's clock). */
  readonly arrivalMs: number;
  /** Arrival plus its function's SLO (possibly tightened by the request). */
  readonly deadlineMs: number;
}

/** Live figures a policy may use; every time in ms, rate per second. */
export interface PolicyContext {
  /** Predicted device time of a batch of b items, or undefined before any fit exists. */
  predictMs(b: number): number | undefined;
  /** Fitted marginal cost per item and fixed cost per batch, when known. */
  readonly cost: { readonly alphaMs: number; readonly tau0Ms: number } | undefined;
  /** Arrival rate of this model's queue, all functions together. */
  readonly ratePerSec: number;
  /** Mean-latency objective S of this model. */
  readonly objectiveMs: number;
  /** Kept free before a deadline. */
  readonly marginMs: number;
  /**
   * Smoothed queue + device time items actually saw, when measured. The formula is the feed-forward; this
   * is the feedback that tells a policy its model of the device is off (e.g. the CPU is shared).
   */
  readonly measuredMeanMs?: number;
  /** Share of recent items that finished on the device after their deadline, when measured (0..1). */
  readonly recentLateShare?: number;
  /** The lane's power model: a hold is only worth its latency when it saves energy. */
  readonly power?: { readonly busyWatts: number; readonly idleWatts: number };
}

/** What a policy sees when a lane is free and items wait. */
export interface QueueState {
  readonly nowMs: number;
  /** Waiting items, earliest deadline first (never empty when a policy is asked). */
  readonly waiting: readonly Pending<unknown>[];
  readonly maxBatch: number;
  /**
   * When the current hold began: the moment a lane became free while items were waiting. Undefined when the
   * lane had gone idle on an empty queue, in which case the formula's policy goes at once on the first arrival.
   */
  readonly holdStartMs: number | undefined;
  readonly context: PolicyContext;
}

/** Dispatch the first `dispatch` waiting items now, or ask again at `waitUntilMs` (or on the next arrival). */
export type Decision = { readonly dispatch: number } | { readonly waitUntilMs: number };

/** A pure decision: given the queue, dispatch now (how many) or wait (until when). */
export interface BatchPolicy {
  readonly name: PolicyName;
  decide(state: QueueState): Decision;
}

/**
 * The host stage as the scheduler sees it: the event loop every call crosses before and after its batch.
 * The runtime measures it (metrics/host-monitor.ts); the simulator models it.
 */
export interface HostView {
  /** How long work waits for the event loop right now, ms (its lag): what a call waits before it is read. */
  readonly lagMs: number;
  /** Event-loop time one call costs, ms (both of its visits), smoothed; 0 before it is measured. */
  readonly perCallMs: number;
  /** Share of the recent past the loop was busy, 0..1. */
  readonly utilization: number;
  /** Calls per second through the loop, every model together. */
  readonly ratePerSec: number;
}

/** A host stage that costs nothing: for tests and callers that model the device alone. */
export const idleHost: HostView = { lagMs: 0, perCallMs: 0, utilization: 0, ratePerSec: 0 };
