import { CostFitter } from './cost-fit.ts';
import type { PowerModel } from './formula.ts';
import { ModelQueue } from './model-queue.ts';
import { LatencyFeedback } from './feedback.ts';
import { RateMeter } from './rate.ts';
import type { BatchPolicy, Pending, PolicyContext } from './types.ts';
import { VirtualClock } from './virtual-clock.ts';

/**
 * A discrete-event simulator of one model's queue. It drives the runtime's own {@link ModelQueue} and the
 * very same {@link BatchPolicy} object in virtual time, so what it measures is the code that serves
 * requests, not a second copy of it. Only the device is modelled: a batch of `b` items occupies its lane
 * for exactly `alphaMs*b + tau0Ms`.
 *
 * Wiring, as in the runtime's ModelBatcher: each arrival is recorded in a {@link RateMeter} and pushed
 * into the queue with `deadline = arrival + its SLO`; the queue asks the policy whenever a lane is free;
 * a dispatched batch completes after its device time, feeds the {@link CostFitter} (when the policy sees a
 * fitted cost) and then calls `queue.complete()`. Events due at the same moment run in a fixed order
 * (completions and timers before an arrival at the same time; timers in the order they were set), so a
 * run is a pure function of its options.
 *
 * Cost: O(log n) per event plus what the policy's `decide` costs; 100k items take well under a second
 * with the shipped policies (fixed-delay scans the queue on each decision, so it grows with the batch).
 */

/** Simulator input. Times in ms, rates per second, power in watts. */
export interface SimulationOptions {
  /** The policy under test, used as is. */
  policy: BatchPolicy;
  /** Device time of a batch of b items: `alphaMs*b + tau0Ms`, deterministic. */
  cost: { readonly alphaMs: number; readonly tau0Ms: number };
  /** Arrival times, ms from the start of the run (0), sorted ascending (see arrivals.ts). */
  arrivalsMs: readonly number[];
  /**
   * Latency SLO of every item (one number), or of each item (same length as `arrivalsMs`, e.g. two functions
   * sharing the model), ms; `Infinity` for none. An item's deadline is its arrival plus its SLO.
   */
  sloMs: number | readonly number[];
  /** Largest batch (the queue's cap). */
  maxBatch: number;
  /** The model's mean-latency objective S the policy sees, ms. */
  objectiveMs: number;
  /** Margin the policy keeps before a deadline, ms. Default 2 (the runtime's default). */
  marginMs?: number;
  /** Lanes (batches in flight at once). Default 1. */
  lanes?: number;
  /** Busy and idle power of one lane, for joules per inference. Without it, no energy figure. */
  power?: PowerModel;
  /**
   * What the policy's context knows about the cost:
   * - `'true'` (default): the exact `cost` from the first decision on.
   * - `'fitted'`: a {@link CostFitter} fed with every simulated batch, as the runtime's is, after a
   *   warm-up probe of `probeSizes`.
   */
  costSource?: 'true' | 'fitted';
  /** Batches in the fit's sliding window ('fitted' only). Default 200 (the runtime's default). */
  fitWindow?: number;
  /**
   * Batch sizes fed to the fit before the first arrival, like the runtime's warm-up probe ('fitted' only).
   * Default `[1, k, 1, k]` with `k = min(8, maxBatch)`, as the runtime does; `[]` starts with no fit.
   */
  probeSizes?: readonly number[];
  /** Time constant of the rate meter, ms. Default 1000 (the runtime's default). */
  rateTimeConstantMs?: number;
  /**
   * Share of the items, the earliest arrivals, left out of the latency statistics (mean, p50, p99, max,
   * SLO attainment) while the queue and the rate meter settle, in [0, 1). Default 0. Batch counts, busy
   * time and energy always cover the whole run.
   */
  warmupFraction?: number;
  /** Called at the end of each batch (e.g. to plot batch sizes over a burst). */
  onBatch?(batch: { readonly startMs: number; readonly endMs: number; readonly size: number }): void;
}

/** Simulator output. Times in ms. */
export interface SimulationResult {
  /** Items simulated. */
  readonly items: number;
  /** Items in the latency statistics (after the warm-up cut). */
  readonly measuredItems: number;
  /** Latency of every item (arrival to the end of its batch), in arrival order, warm-up included. */
  readonly latenciesMs: Float64Array;
  /** Statistics over the measured items; percentiles are nearest-rank. */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Share of measured items whose latency is within their own SLO. */
  readonly sloAttainment: number;
  /** Batches run (whole run). */
  readonly batches: number;
  /** Items per batch (whole run). */
  readonly meanBatch: number;
  /** Items per batch over the batches that started at or after the first measured item arrived. */
  readonly measuredMeanBatch: number;
  /** Largest batch run. */
  readonly maxBatchSeen: number;
  /** Lane-time spent computing, summed over lanes (whole run). */
  readonly busyMs: number;
  /** From 0 to the end of the last batch. */
  readonly spanMs: number;
  /** Lane-time not computing: `lanes*spanMs - busyMs`. */
  readonly idleMs: number;
  /**
   * `(busyWatts*busy + idleWatts*idle) / items` over the whole span (seconds times watts: joules);
   * undefined without a power model.
   */
  readonly joulesPerInference: number | undefined;
}

function checkNumber(name: string, value: number, min: number, strictMin = false): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || (strictMin ? value <= min : value < min)) {
    throw new TypeError(`${name} must be a finite number ${strictMin ? '>' : '>='} ${min}, got ${String(value)}`);
  }
}

/**
 * Runs one simulation to completion (every item served).
 *
 * @example
 * const r = simulate({
 *   policy: greedyPolicy, cost: { alphaMs: 1, tau0Ms: 5 }, arrivalsMs: poissonArrivals(300, 60_000, 1),
 *   sloMs: 100, maxBatch: 1_000_000, objectiveMs: 50, warmupFraction: 0.1,
 * });
 * r.meanMs; // compare with meanLatencyBound(300, { alpha: 0.001, tau0: 0.005 }) * 1000
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const { policy, cost, arrivalsMs, sloMs, maxBatch, objectiveMs, power, onBatch } = options;
  const marginMs = options.marginMs ?? 2;
  const lanes = options.lanes ?? 1;
  const costSource = options.costSource ?? 'true';
  const warmupFraction = options.warmupFraction ?? 0;
  checkNumber('cost.alphaMs', cost.alphaMs, 0);
  checkNumber('cost.tau0Ms', cost.tau0Ms, 0);
  checkNumber('objectiveMs', objectiveMs, 0);
  checkNumber('marginMs', marginMs, 0);
  if (!(warmupFraction >= 0 && warmupFraction < 1)) throw new TypeError(`warmupFraction must be in [0, 1), got ${warmupFraction}`);
  if (costSource !== 'true' && costSource !== 'fitted') throw new TypeError(`costSource must be 'true' or 'fitted', got ${String(costSource)}`);
  const n = arrivalsMs.length;
  if (typeof sloMs !== 'number' && sloMs.length !== n) {
    throw new TypeError(`sloMs must be one number or one per arrival (${n}), got ${sloMs.length} values`);
  }
  if (typeof sloMs === 'number') {
    if (!(sloMs >= 0)) throw new TypeError(`sloMs must be a number >= 0 (Infinity for none), got ${sloMs}`);
  } else {
    for (let i = 0; i < n; i++) {
      if (!(sloMs[i] >= 0)) throw new TypeError(`sloMs[${i}] must be a number >= 0 (Infinity for none), got ${sloMs[i]}`);
    }
  }
  for (let i = 0; i < n; i++) {
    const a = arrivalsMs[i];
    if (!Number.isFinite(a) || a < 0 || (i > 0 && a < arrivalsMs[i - 1])) {
      throw new TypeError(`arrivalsMs must be finite, >= 0 and sorted; arrivalsMs[${i}] = ${a}`);
    }
  }
  if (power) {
    checkNumber('power.busyWatts', power.busyWatts, 0);
    checkNumber('power.idleWatts', power.idleWatts, 0);
  }

  const clock = new VirtualClock(0);
  const rate = new RateMeter(options.rateTimeConstantMs ?? 1000);
  const runMs = (b: number) => cost.alphaMs * b + cost.tau0Ms;

  // What the policy sees, as ModelBatcher.context() builds it. One object serves every decision: its
  // getters read the live rate and the current fit when the policy asks, so the values are those a fresh
  // context would hold, without an allocation per decision (and a policy that never reads the fit, like
  // greedy, never pays for a re-fit).
  let fitter: CostFitter | undefined;
  if (costSource !== 'true') {
    fitter = new CostFitter(options.fitWindow ?? 200);
    const k = Math.min(8, maxBatch);
    for (const b of options.probeSizes ?? [1, k, 1, k]) fitter.add(b, runMs(b));
  }
  const fit = fitter;
  const known = { alphaMs: cost.alphaMs, tau0Ms: cost.tau0Ms };
  // The same feedback the runtime's batcher keeps, read through getters like the live rate.
  const feedback = new LatencyFeedback();
  const context: PolicyContext = {
    predictMs: fit ? (b) => fit.predict(b) : runMs,
    get cost() {
      if (!fit) return known;
      const f = fit.get();
      return f && { alphaMs: f.alphaMs, tau0Ms: f.tau0Ms };
    },
    get ratePerSec() {
      return rate.perSecond(clock.now());
    },
    objectiveMs,
    marginMs,
    power,
    get measuredMeanMs() {
      return feedback.meanMs;
    },
    get recentLateShare() {
      return feedback.lateShare;
    },
  };

  const latencies = new Float64Array(n).fill(NaN);
  const first = Math.min(n, Math.floor(warmupFraction * n));
  const measuredFromMs = first < n ? arrivalsMs[first] : Infinity;
  let measuredBatches = 0;
  let measuredBatchItems = 0;
  let batches = 0;
  let busyMs = 0;
  let maxBatchSeen = 0;
  let lastEndMs = 0;

  const queue: ModelQueue<number> = new ModelQueue<number>({
    clock,
    policy,
    maxBatch,
    lanes,
    context: () => context,
    dispatch(batch) {
      const startMs = clock.now();
      const ms = runMs(batch.length);
      clock.setTimer(() => {
        const endMs = clock.now();
        for (const it of batch) {
          latencies[it.payload] = endMs - it.arrivalMs;
          feedback.record(endMs - it.arrivalMs, endMs > it.deadlineMs);
        }
        batches++;
        busyMs += ms;
        if (startMs >= measuredFromMs) {
          measuredBatches++;
          measuredBatchItems += batch.length;
        }
        if (batch.length > maxBatchSeen) maxBatchSeen = batch.length;
        lastEndMs = endMs;
        fitter?.add(batch.length, ms);
        onBatch?.({ startMs, endMs, size: batch.length });
        queue.complete();
      }, ms);
    },
  });

  for (let i = 0; i < n; i++) {
    const arrivalMs = arrivalsMs[i];
    clock.advanceTo(arrivalMs);
    rate.record(arrivalMs);
    const slo = typeof sloMs === 'number' ? sloMs : sloMs[i];
    const item: Pending<number> = { payload: i, arrivalMs, deadlineMs: arrivalMs + slo };
    queue.push(item);
  }
  clock.runUntilIdle();
  if (queue.length > 0 || queue.inFlight > 0) {
    throw new Error(`policy "${policy.name}" left ${queue.length} items waiting with no timer set`);
  }

  // Statistics over the measured items.
  const m = n - first;
  const measured = latencies.slice(first);
  let sum = 0;
  let within = 0;
  for (let i = 0; i < m; i++) {
    const l = measured[i];
    sum += l;
    if (l <= (typeof sloMs === 'number' ? sloMs : sloMs[first + i])) within++;
  }
  measured.sort();
  const pct = (p: number) => (m === 0 ? NaN : measured[Math.max(0, Math.ceil(p * m) - 1)]);
  const spanMs = lastEndMs;
  const idleMs = Math.max(0, lanes * spanMs - busyMs);
  return {
    items: n,
    measuredItems: m,
    latenciesMs: latencies,
    meanMs: m === 0 ? NaN : sum / m,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: m === 0 ? NaN : measured[m - 1],
    sloAttainment: m === 0 ? NaN : within / m,
    batches,
    meanBatch: batches === 0 ? NaN : n / batches,
    measuredMeanBatch: measuredBatches === 0 ? NaN : measuredBatchItems / measuredBatches,
    maxBatchSeen,
    busyMs,
    spanMs,
    idleMs,
    joulesPerInference:
      power && n > 0 ? (power.busyWatts * busyMs + power.idleWatts * idleMs) / 1000 / n : undefined,
  };
}
