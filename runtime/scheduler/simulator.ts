import { defaults } from '../defaults.ts';
import type { PowerModel } from './formula.ts';
import { ModelScheduler } from './model-scheduler.ts';
import { RateMeter } from './rate.ts';
import type { BatchPolicy, HostView, Pending } from './types.ts';
import { VirtualClock } from './virtual-clock.ts';

/**
 * A discrete-event simulator of one model. It drives the runtime's own {@link ModelScheduler} (queue,
 * policy, cost fit, rate, feedback, admission, expiry) in virtual time, so what it measures is the code
 * that serves requests, not a second copy of it. Modelled are the device - a batch of `b` items occupies
 * its lane for exactly `alphaMs*b + tau0Ms` - and, when `host` is given, the host stage: one FIFO server
 * (the event loop) that every call crosses twice, once before its batch (read to hand-over, `preMs`; or a
 * refusal, `shedMs`) and once after (`postMs`).
 *
 * Wiring, as in the runtime: an arrival waits for the loop; when the loop reads it, admission at the door
 * may refuse it (costing `shedMs`), else its `pre` runs and it is admitted again and pushed into the
 * scheduler with `deadline = arrival + its SLO`; the queue asks the policy whenever a lane is free; a
 * dispatched batch completes after its device time, feeds the fit, and each of its items then waits for
 * the loop to run its post. The loop's lag the scheduler sees is the wait of the job the loop took last,
 * as the runtime's timer measures it. Events due at the same moment run in a fixed order (completions and
 * timers before an arrival at the same time; timers in the order they were set), so a run is a pure
 * function of its options.
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
  /**
   * The host stage, ms of event-loop time per call: before its batch (`preMs`), after it (`postMs`), and
   * for a refusal (`shedMs`). Without it, the host costs nothing and calls reach the queue on arrival.
   */
  host?: { readonly preMs: number; readonly postMs: number; readonly shedMs: number };
  /**
   * Admission control as the runtime runs it (door, after pre, expiry of items that cannot make it).
   * Default false: every item is served, however late.
   */
  admission?: boolean;
  /** At the door, shed while the loop's lag exceeds this fraction of the SLO (the runtime's default 0.1). */
  hostLagFraction?: number;
  /** Shed when the path's mean bound exceeds the objective by this factor (the runtime's default 2). */
  overloadFactor?: number;
  /** Called at the end of each batch (e.g. to plot batch sizes over a burst). */
  onBatch?(batch: { readonly startMs: number; readonly endMs: number; readonly size: number }): void;
}

/** Simulator output. Times in ms. */
export interface SimulationResult {
  /** Items simulated. */
  readonly items: number;
  /** Items in the latency statistics (after the warm-up cut). */
  readonly measuredItems: number;
  /**
   * Latency of every item (arrival to the end of its batch, or of its post with a host stage), in arrival
   * order, warm-up included; NaN for an item that was shed.
   */
  readonly latenciesMs: Float64Array;
  /** Measured items answered 503 (admission control). */
  readonly shed: number;
  /** Measured items served within their SLO per second of their arrival span. */
  readonly goodputPerSec: number;
  /** Statistics over the measured items that were served; percentiles are nearest-rank. */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Share of measured items served within their own SLO (a shed item is a miss). */
  readonly sloAttainment: number;
  /** Batches run (whole run). */
  readonly batches: number;
  /** Items per batch (whole run; shed items ride in none). */
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
  const marginMs = options.marginMs ?? defaults.scheduler.marginMs;
  const lanes = options.lanes ?? 1;
  const costSource = options.costSource ?? 'true';
  const warmupFraction = options.warmupFraction ?? 0;
  checkNumber('cost.alphaMs', cost.alphaMs, 0);
  checkNumber('cost.tau0Ms', cost.tau0Ms, 0);
  checkNumber('objectiveMs', objectiveMs, 0);
  checkNumber('marginMs', marginMs, 0);
  if (!(warmupFraction >= 0 && warmupFraction < 1)) throw new TypeError(`warmupFraction must be in [0, 1), got ${warmupFraction}`);
  if (costSource !== 'true' && costSource !== 'fitted')
    throw new TypeError(`costSource must be 'true' or 'fitted', got ${String(costSource)}`);
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
  const runMs = (b: number) => cost.alphaMs * b + cost.tau0Ms;
  const admission = options.admission ?? false;
  const hostCost = options.host;
  const sloOf = (i: number) => (typeof sloMs === 'number' ? sloMs : sloMs[i]);

  // The host stage: a FIFO server in virtual time. `lagMs` is the wait of the job it took last.
  const host = { lagMs: 0, busy: false, perCallMs: hostCost ? hostCost.preMs + hostCost.postMs : 0 };
  // The loop's own rate meter, as the runtime's host monitor keeps one.
  const loopRate = new RateMeter();
  const hostView = (): HostView => ({
    lagMs: host.lagMs,
    perCallMs: host.perCallMs,
    utilization: 0,
    ratePerSec: loopRate.perSecond(clock.now()),
  });
  type Job = { enqueuedMs: number; run(): number };
  const jobs: Job[] = [];
  let jobHead = 0;
  const startNextJob = (): void => {
    if (host.busy || jobHead >= jobs.length) return;
    const job = jobs[jobHead++];
    if (jobHead > 4096 && jobHead * 2 > jobs.length) {
      jobs.splice(0, jobHead);
      jobHead = 0;
    }
    host.lagMs = clock.now() - job.enqueuedMs;
    host.busy = true;
    clock.setTimer(() => {
      host.busy = false;
      startNextJob();
    }, job.run());
  };
  /** Runs `run` on the loop once it is free; `run` returns the loop time it costs. */
  const onHost = (run: () => number): void => {
    if (!hostCost) {
      run();
      return;
    }
    jobs.push({ enqueuedMs: clock.now(), run });
    startNextJob();
  };

  const sched: ModelScheduler<number> = new ModelScheduler<number>({
    clock,
    policy,
    maxBatch,
    lanes,
    fitWindow: options.fitWindow ?? defaults.scheduler.fitWindow,
    marginMs,
    // The objective is given as is: the tightest SLO below is set to it with a fraction of 1.
    meanObjectiveFraction: 1,
    overloadFactor: options.overloadFactor ?? defaults.scheduler.overloadFactor,
    hostLagFraction: options.hostLagFraction ?? defaults.scheduler.hostLagFraction,
    power,
    host: hostView,
    rateTimeConstantMs: options.rateTimeConstantMs,
    mayExpire: () => admission,
    dispatch(batch) {
      const startMs = clock.now();
      const ms = runMs(batch.length);
      clock.setTimer(() => {
        const endMs = clock.now();
        batches++;
        batchedItems += batch.length;
        busyMs += ms;
        if (startMs >= measuredFromMs) {
          measuredBatches++;
          measuredBatchItems += batch.length;
        }
        if (batch.length > maxBatchSeen) maxBatchSeen = batch.length;
        lastEndMs = endMs;
        onBatch?.({ startMs, endMs, size: batch.length });
        sched.finished(batch, ms);
        for (const it of batch) {
          if (!hostCost) latencies[it.payload] = endMs - it.arrivalMs;
          else
            onHost(() => {
              latencies[it.payload] = clock.now() + hostCost.postMs - it.arrivalMs;
              sched.noteHostTime(hostCost.preMs, clock.now() + hostCost.postMs - endMs);
              return hostCost.postMs;
            });
        }
      }, ms);
    },
    onExpire(items) {
      for (const it of items) onHost(() => ((shedItem[it.payload] = 1), hostCost?.shedMs ?? 0));
    },
  });
  sched.setTightestSlo(objectiveMs);
  // What the fit knows before the first arrival: the exact line ('true'), or the warm-up probe's points.
  const k = Math.min(8, maxBatch);
  const probe = costSource === 'true' ? [1, maxBatch] : (options.probeSizes ?? [1, k, 1, k]);
  for (const b of probe) sched.probed(b, runMs(b));

  const latencies = new Float64Array(n).fill(NaN);
  const shedItem = new Uint8Array(n);
  const first = Math.min(n, Math.floor(warmupFraction * n));
  const measuredFromMs = first < n ? arrivalsMs[first] : Infinity;
  let measuredBatches = 0;
  let measuredBatchItems = 0;
  let batches = 0;
  let batchedItems = 0;
  let busyMs = 0;
  let maxBatchSeen = 0;
  let lastEndMs = 0;

  for (let i = 0; i < n; i++) {
    const arrivalMs = arrivalsMs[i];
    clock.advanceTo(arrivalMs);
    loopRate.record(arrivalMs);
    const slo = sloOf(i);
    const item: Pending<number> = { payload: i, arrivalMs, deadlineMs: arrivalMs + slo };
    onHost(() => {
      if (admission && !sched.admit(item.deadlineMs, 'door', slo).admit) {
        shedItem[i] = 1;
        return hostCost?.shedMs ?? 0;
      }
      const pre = hostCost?.preMs ?? 0;
      const enqueue = () => {
        if (admission && !sched.admit(item.deadlineMs, 'queued', slo).admit) shedItem[i] = 1;
        else sched.push(item);
      };
      if (pre > 0) clock.setTimer(enqueue, pre);
      else enqueue();
      return pre;
    });
  }
  clock.runUntilIdle();
  if (sched.waiting > 0 || sched.inFlight > 0) {
    throw new Error(`policy "${policy.name}" left ${sched.waiting} items waiting with no timer set`);
  }

  // Statistics over the measured items.
  const m = n - first;
  const served: number[] = [];
  let sum = 0;
  let within = 0;
  let shed = 0;
  for (let i = first; i < n; i++) {
    if (shedItem[i]) {
      shed++;
      continue;
    }
    const l = latencies[i];
    served.push(l);
    sum += l;
    if (l <= sloOf(i)) within++;
  }
  served.sort((a, b) => a - b);
  const s = served.length;
  const pct = (p: number) => (s === 0 ? NaN : served[Math.max(0, Math.ceil(p * s) - 1)]);
  const spanOfArrivals = m > 0 ? arrivalsMs[n - 1] - arrivalsMs[first] : 0;
  const spanMs = lastEndMs;
  const idleMs = Math.max(0, lanes * spanMs - busyMs);
  return {
    items: n,
    measuredItems: m,
    latenciesMs: latencies,
    shed,
    goodputPerSec: spanOfArrivals > 0 ? (1000 * within) / spanOfArrivals : NaN,
    meanMs: s === 0 ? NaN : sum / s,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: s === 0 ? NaN : served[s - 1],
    sloAttainment: m === 0 ? NaN : within / m,
    batches,
    meanBatch: batches === 0 ? NaN : batchedItems / batches,
    measuredMeanBatch: measuredBatches === 0 ? NaN : measuredBatchItems / measuredBatches,
    maxBatchSeen,
    busyMs,
    spanMs,
    idleMs,
    joulesPerInference: power && n > 0 ? (power.busyWatts * busyMs + power.idleWatts * idleMs) / 1000 / n : undefined,
  };
}
