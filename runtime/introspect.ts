import type { LoadedFunction } from './functions/load.ts';
import type { Runtime } from './runtime.ts';
import { currentHoldMs } from './scheduler/policies/slo.ts';
import {
  expectedBatchSize,
  joulesPerInference,
  maxRateWithin,
  meanLatencyBoundWithHold,
  sloFeasibility,
  type BatchCost,
} from './scheduler/formula.ts';

/** What the formula predicts for a model right now, all in ms / per second / joules. */
export interface Prediction {
  meanLatencyBoundMs: number | null;
  maxRatePerSec: number | null;
  holdMs: number;
  expectedBatch: number | null;
  /** Modelled from energy.busyWatts / idleWatts in hono.config.ts, not measured. */
  joulesPerInference: number | null;
  energySource: 'model';
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The fitted cost of a model in seconds, when there is a fit. */
export function costOf(rt: Runtime, model: string): BatchCost | undefined {
  const f = rt.batchers.get(model)?.fit.get();
  return f && { alpha: f.alphaMs / 1000, tau0: f.tau0Ms / 1000 };
}

/** The formula's view of `model` at its live rate, for `sloMs` (a function's SLO). */
/**
 * A model's live rate, fitted cost and the hold its policy takes right now, computed by the policy's own
 * code (margin, energy check and feedback guards included), so what is reported is what is done.
 */
function outlook(rt: Runtime, model: string): { rate: number; cost: BatchCost; hold: number } | undefined {
  const cost = costOf(rt, model);
  const batcher = rt.batchers.get(model);
  if (!cost || !batcher) return undefined;
  const nowMs = performance.now();
  const hold = rt.config.models[model].policy === 'slo' ? currentHoldMs({ context: batcher.context(), waiting: batcher.waitingItems, nowMs }) / 1000 : 0;
  return { rate: batcher.rate.perSecond(nowMs), cost, hold };
}

/** The formula's view of `model` at its live rate, for `sloMs` (a function's SLO). */
export function predict(rt: Runtime, model: string, sloMs: number): Prediction | null {
  const o = outlook(rt, model);
  if (!o) return null;
  const { rate, cost, hold } = o;
  return {
    meanLatencyBoundMs: finite(1000 * meanLatencyBoundWithHold(rate, cost, hold)),
    maxRatePerSec: finite(maxRateWithin(cost, (sloMs / 1000) * rt.config.scheduler.meanObjectiveFraction)),
    holdMs: 1000 * hold,
    expectedBatch: finite(expectedBatchSize(rate, cost, hold)),
    joulesPerInference: finite(joulesPerInference(rate, cost, rt.config.energy, hold)),
    energySource: 'model',
  };
}

/** The state of a function as `GET /functions` lists it. */
export function functionStatus(rt: Runtime, fn: LoadedFunction): string {
  const s = rt.modelStatus.get(fn.definition.model);
  return s?.state === 'ready' ? 'ready' : s?.state === 'failed' ? 'model-failed' : 'loading';
}

/** Whether the SLO can be met at all on this device (U(0) <= SLO), once the model's cost is known. */
export function feasibility(rt: Runtime, fn: LoadedFunction): { feasible: boolean; zeroLoadBoundMs: number; reason?: string } | null {
  const cost = costOf(rt, fn.definition.model);
  if (!cost) return null;
  const f = sloFeasibility(cost, fn.sloMs / 1000);
  return { feasible: f.feasible, zeroLoadBoundMs: f.zeroLoadBound * 1000, ...(f.reason ? { reason: f.reason } : {}) };
}

/** Sets the per-model gauges of /metrics from the live state (called at each scrape). */
export function refreshModelGauges(rt: Runtime): void {
  for (const [name, b] of rt.batchers) {
    rt.metrics.liveRate.set({ model: name }, b.rate.perSecond(performance.now()));
    const o = outlook(rt, name);
    if (!o) continue;
    const bound = meanLatencyBoundWithHold(o.rate, o.cost, o.hold);
    if (Number.isFinite(bound)) rt.metrics.predictedBound.set({ model: name }, bound * 1000);
    rt.metrics.hold.set({ model: name }, o.hold * 1000);
  }
}

/** One line of `GET /functions`. */
export function summarize(rt: Runtime, fn: LoadedFunction) {
  const f = feasibility(rt, fn);
  return {
    name: fn.name,
    model: fn.definition.model,
    slo: fn.definition.slo,
    sloMs: fn.sloMs,
    status: functionStatus(rt, fn),
    version: fn.version,
    ...(fn.definition.description ? { description: fn.definition.description } : {}),
    ...(f && !f.feasible ? { warning: f.reason } : {}),
  };
}

/** Everything `GET /functions/:name` shows: the summary, an example, the fit, live figures and the formula's prediction. */
export function describe(rt: Runtime, fn: LoadedFunction) {
  const batcher = rt.batchers.get(fn.definition.model)!;
  const fit = batcher.fit.get();
  return {
    ...summarize(rt, fn),
    policy: rt.config.models[fn.definition.model].policy,
    maxBatch: rt.config.models[fn.definition.model].maxBatch,
    overload: fn.definition.overload ?? 'shed',
    example: fn.definition.example,
    feasibility: feasibility(rt, fn),
    fit: fit ? { alphaMs: fit.alphaMs, tau0Ms: fit.tau0Ms, r2: fit.r2, samples: fit.samples } : null,
    live: rt.liveStats(fn.name).figures(performance.now()),
    modelRatePerSec: batcher.rate.perSecond(performance.now()),
    prediction: predict(rt, fn.definition.model, fn.sloMs),
  };
}
