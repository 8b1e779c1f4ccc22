import { costOf, predict, summarize } from '../../introspect.ts';
import type { Runtime } from '../../runtime.ts';
import type { ModelTotals, Totals } from './totals.ts';

/**
 * What the dashboard shows at one moment, as one JSON object: built from `summarize` / `predict` (what
 * `GET /functions/:name` reports), the live figures, and the Prometheus totals. Figures "over the last
 * interval" are differences between this read of the totals and the previous one (null on the first).
 */
export function snapshot(rt: Runtime, now: Totals, previous: Totals | undefined) {
  const nowMs = performance.now();
  const functions = rt.functions.list().map((fn) => {
    const live = rt.liveStats(fn.name).figures(nowMs);
    return {
      ...summarize(rt, fn),
      ratePerSec: live.ratePerSec,
      p50Ms: live.p50LatencyMs,
      p99Ms: live.p99LatencyMs,
      attainment: live.sloAttainment,
      meanBatch: live.meanBatch,
      shed: now.shed.get(fn.name) ?? 0,
    };
  });
  const models = [...rt.pipelines()].map(({ name, status }) => {
    const fns = rt.functions.usersOf(name);
    const sched = rt.pipeline(name)?.scheduler;
    const fit = sched?.fit.get();
    // The model's objective follows its tightest SLO, so the prediction is taken for that one.
    const tightest = Math.min(...fns.map((f) => f.sloMs));
    const p = fns.length ? predict(rt, name, tightest) : null;
    const t = now.models.get(name);
    return {
      name,
      state: status.state,
      ...(status.state === 'failed' ? { error: status.error } : {}),
      policy: rt.config.models[name].policy,
      functions: fns.map((f) => f.name),
      ratePerSec: sched ? sched.rate.perSecond(nowMs) : 0,
      batches: t?.batches ?? 0,
      histogram: t ? perBucket(t.buckets) : [],
      interval: t ? interval(t, previous?.models.get(name)) : null,
      fit:
        fit && costOf(rt, name)
          ? { alphaMs: fit.alphaMs, tau0Ms: fit.tau0Ms, r2: fit.r2, quality: fit.quality, ...(fit.reason ? { reason: fit.reason } : {}) }
          : null,
      points: sched ? sched.fit.evidence() : { anchors: [], recent: [] },
      holdMs: p?.holdMs ?? null,
      boundMs: p?.meanLatencyBoundMs ?? null,
      hostMs: p?.parts.hostMs ?? null,
      deviceMs: p?.parts.deviceMs ?? null,
      joulesPerInference: p?.joulesPerInference ?? null,
      ...(p?.warning ? { warning: p.warning } : {}),
    };
  });
  return { atMs: Date.now(), functions, models, problems: rt.problems() };
}

/** Batches per bucket (`le` = the bucket's upper bound) from Prometheus's cumulative counts. */
function perBucket(buckets: ModelTotals['buckets']): { le: number; count: number }[] {
  return buckets.map((b, i) => ({ le: b.le, count: b.count - (i > 0 ? buckets[i - 1].count : 0) }));
}

/**
 * Since the previous read: batches, their mean size, and the measured mean of queue time plus device
 * time (the span the bound covers), next to which the dashboard draws the bound.
 */
function interval(t: ModelTotals, before: ModelTotals | undefined) {
  if (!before) return null;
  const batches = t.batches - before.batches;
  const queued = t.queued - before.queued;
  return {
    batches,
    meanBatch: batches > 0 ? (t.items - before.items) / batches : null,
    measuredMs:
      batches > 0 && queued > 0
        ? (1000 * (t.queueSec - before.queueSec)) / queued + (1000 * (t.deviceSec - before.deviceSec)) / batches
        : null,
  };
}
