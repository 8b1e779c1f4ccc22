import type { ResolvedConfig } from './config.ts';
import type { LoadedFunction } from './functions/load.ts';
import type { GpuEnergy } from './metrics/gpu-energy.ts';
import type { LiveStats } from './metrics/live-stats.ts';
import type { RuntimeMetrics } from './metrics/prometheus.ts';
import { v2Caller } from './pipeline/caller.ts';
import type { ModelPipeline } from './pipeline/model-pipeline.ts';
import type { HostView } from './scheduler/types.ts';
import { currentHoldMs } from './scheduler/policies/slo.ts';
import {
  attributedJoulesPerInference,
  expectedBatchSize,
  hostSojourn,
  maxRateWithinPath,
  meanLatencyBoundWithHold,
  type BatchCost,
} from './scheduler/formula.ts';

/** What the formula predicts for a model right now, all in ms / per second / joules. */
export interface Prediction {
  /** What the bounds cover, in words. */
  covers: string;
  /** The device stage: mean queue + device time, U_h at the live rate (null when unstable). */
  meanLatencyBoundMs: number | null;
  /** The whole path: the device bound plus the host stage's sojourn (null when either stage is saturated). */
  pathLatencyBoundMs: number | null;
  /** The two parts of the path bound. */
  parts: { deviceMs: number | null; hostMs: number | null };
  /** Largest rate of this function's model whose path bound stays within its mean objective. */
  maxRatePerSec: number | null;
  holdMs: number;
  expectedBatch: number | null;
  /** Device energy a call causes: busy power over its share of its batch, idle power over its share of the hold. */
  joulesPerInference: number | null;
  /**
   * `nvidia-smi`: measured, the GPU's energy over the last seconds (runtime/metrics/gpu-energy.ts) times the
   * model's share of the GPU's device time, over its calls. `model`: modelled from energy.busyWatts /
   * idleWatts in hono.config.ts (CPU, no nvidia-smi, or no reading yet).
   */
  energySource: 'model' | 'nvidia-smi';
  /** Present when the fit in force is a fallback: the numbers rest on an older fit. */
  warning?: string;
}

/**
 * What introspection reads of a runtime: a narrow view, so this module never imports the runtime that
 * composes the pipelines it reports on.
 */
export interface Introspected {
  readonly config: Pick<ResolvedConfig, 'models' | 'scheduler' | 'energy'>;
  readonly host: { view(): HostView };
  readonly metrics: Pick<RuntimeMetrics, 'liveRate' | 'predictedBound' | 'hold'>;
  readonly versions: { holds(file: string): boolean };
  readonly gpuEnergy?: Pick<GpuEnergy, 'joulesPerInference'>;
  pipeline(model: string): ModelPipeline | undefined;
  pipelines(): Iterable<ModelPipeline>;
  liveStats(fn: string): LiveStats;
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The fitted cost of a model in seconds, when there is a fit. */
export function costOf(rt: Introspected, model: string): BatchCost | undefined {
  return rt.pipeline(model)?.cost();
}

/**
 * A model's live rate, fitted cost and the hold its policy takes right now, computed by the policy's own
 * code (margin, energy check and feedback guards included), so what is reported is what is done.
 */
function outlook(rt: Introspected, model: string): { rate: number; cost: BatchCost; hold: number } | undefined {
  const pipeline = rt.pipeline(model);
  const cost = pipeline?.cost();
  if (!cost || !pipeline) return undefined;
  const nowMs = performance.now();
  const sched = pipeline.scheduler;
  const hold =
    rt.config.models[model].policy === 'slo' ? currentHoldMs({ context: sched.context(), waiting: sched.waitingItems, nowMs }) / 1000 : 0;
  return { rate: sched.rate.perSecond(nowMs), cost, hold };
}

/** The formula's view of `model` at its live rate, for `sloMs` (a function's SLO). */
export function predict(rt: Introspected, model: string, sloMs: number): Prediction | null {
  const o = outlook(rt, model);
  if (!o) return null;
  const { rate, cost, hold } = o;
  const host = rt.host.view();
  const perCall = host.perCallMs / 1000;
  const device = meanLatencyBoundWithHold(rate, cost, hold);
  const hostS = hostSojourn({ perCall, rate: Math.max(host.ratePerSec, rate) });
  const otherRate = Math.max(0, host.ratePerSec - rate);
  const fit = rt.pipeline(model)!.scheduler.fit.get();
  const measuredJoules = rt.gpuEnergy?.joulesPerInference(model) ?? null;
  return {
    covers:
      'meanLatencyBoundMs: queue + device (item queued to batch done); pathLatencyBoundMs: request read to reply written, host stage included',
    meanLatencyBoundMs: finite(1000 * device),
    pathLatencyBoundMs: finite(1000 * (device + hostS)),
    parts: { deviceMs: finite(1000 * device), hostMs: finite(1000 * hostS) },
    maxRatePerSec: finite(maxRateWithinPath(cost, (sloMs / 1000) * rt.config.scheduler.meanObjectiveFraction, { perCall, otherRate })),
    holdMs: 1000 * hold,
    expectedBatch: finite(expectedBatchSize(rate, cost, hold)),
    ...(measuredJoules !== null
      ? { joulesPerInference: measuredJoules, energySource: 'nvidia-smi' as const }
      : { joulesPerInference: finite(attributedJoulesPerInference(rate, cost, rt.config.energy, hold)), energySource: 'model' as const }),
    ...(fit?.quality === 'fallback' ? { warning: fit.reason } : {}),
  };
}

/** The state of a function as `GET /functions` lists it. */
export function functionStatus(rt: Introspected, fn: LoadedFunction): string {
  const s = rt.pipeline(fn.definition.model)?.status;
  return s?.state === 'ready' ? 'ready' : s?.state === 'failed' ? 'model-failed' : 'loading';
}

/** Whether the SLO can be met at all on this device (U(0) <= SLO), once the model's cost is known. */
export function feasibility(rt: Introspected, fn: LoadedFunction): { feasible: boolean; zeroLoadBoundMs: number; reason?: string } | null {
  return rt.pipeline(fn.definition.model)?.feasibility(fn.sloMs) ?? null;
}

/** Sets the per-model gauges of /metrics from the live state (called at each scrape). */
export function refreshModelGauges(rt: Introspected): void {
  for (const p of rt.pipelines()) {
    const name = p.name;
    rt.metrics.liveRate.set({ model: name }, p.scheduler.rate.perSecond(performance.now()));
    const o = outlook(rt, name);
    if (!o) continue;
    const bound = meanLatencyBoundWithHold(o.rate, o.cost, o.hold);
    if (Number.isFinite(bound)) rt.metrics.predictedBound.set({ model: name }, bound);
    rt.metrics.hold.set({ model: name }, o.hold);
  }
}

/** One line of `GET /functions`. */
export function summarize(rt: Introspected, fn: LoadedFunction) {
  const f = feasibility(rt, fn);
  return {
    name: fn.name,
    model: fn.definition.model,
    slo: fn.definition.slo,
    sloMs: fn.sloMs,
    status: functionStatus(rt, fn),
    version: fn.version,
    /** Where it came from: a file of the functions folder, or a deploy (which takes precedence). */
    origin: rt.versions.holds(fn.file) ? 'deploy' : 'file',
    ...(fn.definition.description ? { description: fn.definition.description } : {}),
    ...(f && !f.feasible ? { warning: f.reason } : {}),
  };
}

/** Everything `GET /functions/:name` shows: the summary, an example, the fit, live figures and the formula's prediction. */
export function describe(rt: Introspected, fn: LoadedFunction) {
  const model = fn.definition.model;
  const sched = rt.pipeline(model)!.scheduler;
  const fit = sched.fit.get();
  const host = rt.host.view();
  return {
    ...summarize(rt, fn),
    policy: rt.config.models[model].policy,
    /** Where the model runs: `cpu`, `webgpu` or `cuda`. */
    device: rt.config.models[model].device,
    /** The batch cap in force: `maxBatch`, or lower where `maxBatchBytes` capped it once the model loaded. */
    maxBatch: sched.maxBatch,
    maxBatchBytes: rt.config.models[model].maxBatchBytes ?? null,
    overload: fn.definition.overload ?? 'shed',
    example: fn.definition.example,
    feasibility: feasibility(rt, fn),
    fit: fit
      ? {
          alphaMs: fit.alphaMs,
          tau0Ms: fit.tau0Ms,
          r2: fit.r2,
          relativeError: fit.relativeError,
          samples: fit.samples,
          sizes: fit.sizes,
          quality: fit.quality,
          ...(fit.reason ? { reason: fit.reason } : {}),
          source: 'device time of each batch, timed in the lane around session.run; warm-up probe points kept as anchors',
        }
      : null,
    live: rt.liveStats(fn.name).figures(performance.now()),
    modelRatePerSec: sched.rate.perSecond(performance.now()),
    // The model's calls over the v2 protocol, which share its queue and batches with this function's.
    v2Live: rt.liveStats(v2Caller(model)).figures(performance.now()),
    host: { lagMs: host.lagMs, perCallMs: host.perCallMs, utilization: host.utilization, ratePerSec: host.ratePerSec },
    objectiveMs: sched.objectiveMs(),
    prediction: predict(rt, model, fn.sloMs),
  };
}
