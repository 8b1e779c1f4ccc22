import { formatLoad } from '../shared/edge-protocol.ts';
import { predict } from '../introspect.ts';
import type { Runtime } from '../runtime.ts';

/** How long a function's formula figure (its max rate) is reused: predict() is too costly to run per call. */
const maxRateTtlMs = 250;

/**
 * The `x-edgebatch-load` value for a served call of `fn`: its model's queue and live rate (O(1), read per
 * call) and the formula's max rate for the function's SLO (recomputed at most every 250 ms per function).
 */
export function loadReporter(rt: Runtime): (fn: { name: string; sloMs: number; definition: { model: string } }) => string {
  const maxRates = new Map<string, { atMs: number; value: number | null }>();
  return (fn) => {
    const now = performance.now();
    const model = fn.definition.model;
    const sched = rt.pipeline(model)!.scheduler;
    let max = maxRates.get(fn.name);
    if (!max || now - max.atMs > maxRateTtlMs) {
      max = { atMs: now, value: predict(rt, model, fn.sloMs)?.maxRatePerSec ?? null };
      maxRates.set(fn.name, max);
    }
    return formatLoad({ waiting: sched.waiting, ratePerSec: sched.rate.perSecond(now), maxRatePerSec: max.value });
  };
}
