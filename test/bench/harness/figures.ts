/**
 * The figures of one run, from the load generator's per-request columns and the server's own counters.
 * Definitions (also in test/bench/README.md):
 * - goodput: replies with status 200 within their function's SLO, per second of the measured schedule.
 * - SLO attainment: those replies over every request sent (shed, late, failed and timed-out all miss).
 * - shed: 503 replies (admission control); reported apart and left out of the latency percentiles.
 * - p50/p99: over 200 replies and timeouts (a timeout counts as an infinite latency); mean: 200 replies only.
 * - throughput vs ceiling: 200 replies per second over the bare session.run loop's items/s; with two models,
 *   the sum of each model's share.
 * - mean batch: items per batch, averaged over the distinct batches the measured replies rode in.
 * - joules per inference: (busyWatts*busy + idleWatts*(window - busy)) / replies, busy = summed device run
 *   time the server reports, window = first scheduled send to the server idle again (lead-in included,
 *   and so are its replies).
 * - peak batch memory: the largest batch's input bytes (batch size x bytes of one item).
 * - main-thread CPU per call: CPU time of the server's main thread alone (not its worker threads) over the
 *   calls it answered with any status, both over the whole job (lead-in and trickle included), in us.
 * - host stages per call: the runtime's per-stage main-thread seconds over the same calls, in us.
 * - recovery: the trickle sent right after an overload, apart from the run's other figures.
 */
import type { LoadResult } from '../loadgen.ts';

export interface FnInfo {
  name: string;
  model: string;
  sloMs: number;
}

/** Server counters read before and after a run (cumulative, except the event-loop p99 of the window). */
export interface ServerSnapshot {
  busyMs: number;
  /** The whole process (every thread). */
  cpuMs: number;
  /** The main thread alone; null where the server does not report it. */
  mainThreadCpuMs: number | null;
  eventLoopP99Ms: number | null;
  /** Main-thread seconds per host stage (runtime only); null where not exported. */
  hostStageSec: Record<string, number> | null;
  /** Batches run so far (runtime only); null where not exported. */
  batches: number | null;
}

export interface Prediction {
  meanLatencyBoundMs: number | null;
  holdMs: number;
  expectedBatch: number | null;
  maxRatePerSec: number | null;
  joulesPerInference: number | null;
  alphaMs: number | null;
  tau0Ms: number | null;
  r2: number | null;
  /** The fit's own verdict, when the runtime gives one. */
  fitQuality: string | number | null;
  liveRatePerSec: number | null;
}

export interface FunctionFigures {
  sloMs: number;
  sent: number;
  ok: number;
  withinSlo: number;
  shed: number;
  sloAttainment: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ModelFigures {
  throughputPerSec: number;
  ceilingPerSec: number;
  ceilingRatio: number;
  meanBatch: number | null;
  /** Mean of Server-Timing queue + inference (the runtime's own arrival-to-device-done), ms. */
  deviceSideMeanMs: number | null;
  endToEndMeanMs: number | null;
  /** The runtime's formula during the run (mean over the samples taken), when the peer is the runtime. */
  predicted: Prediction | null;
}

/** The trickle after an overload: times from the overload's end. */
export interface RecoveryFigures {
  ratePerSec: number;
  sent: number;
  ok: number;
  shed: number;
  lost: number;
  sloAttainment: number;
  p50Ms: number;
  p99Ms: number;
  /** Scheduled send of the first trickle call answered 200 within its SLO, ms after the overload's end. */
  firstWithinSloMs: number | null;
  /** From this time on (ms after the overload's end) every trickle call was answered 200 within its SLO. */
  allWithinSloFromMs: number | null;
}

export interface RunFigures {
  offeredPerSec: number;
  sent: number;
  ok: number;
  withinSlo: number;
  late: number;
  shed: number;
  /** HTTP statuses other than 200 and 503. */
  errors: number;
  /** No reply by the end of the drain. */
  timeouts: number;
  /** Connection refused, reset or closed before a reply. Timeouts and these are the lost calls. */
  connectionErrors: number;
  goodputPerSec: number;
  sloAttainment: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  throughputPerSec: number;
  ceilingRatio: number;
  meanBatch: number | null;
  joulesPerInference: number | null;
  peakBatchBytes: number;
  eventLoopP99Ms: number | null;
  busyFraction: number;
  serverCpuMsPerReply: number | null;
  /** Over the whole job (lead-in, measured part, trickle), the window the server's counters cover. */
  job: { answered: number; ok: number; shed: number };
  mainThreadCpuMs: number | null;
  mainThreadCpuUsPerCall: number | null;
  hostStagesUsPerCall: Record<string, number> | null;
  loadgenCpuMsPerRequest: number;
  sendLagP99Ms: number;
  peakConnections: number;
  perFunction: Record<string, FunctionFigures>;
  perModel: Record<string, ModelFigures>;
  /** Requests scheduled in the burst (and the 500 ms after it), when the run had one. */
  burstWindow: { sent: number; sloAttainment: number; p99Ms: number; maxMs: number } | null;
  recovery: RecoveryFigures | null;
}

/** The median of `xs` (the mean of the middle two for an even count), NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The q-quantile (0..1) of `xs` by nearest rank; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, v) => a + v, 0) / xs.length : NaN);
/**
 * The largest of `xs`, NaN for none. Not `Math.max(...xs)`: spreading an array passes each element as an
 * argument, and a 30 s overload at 3C on a fast machine (over half a million calls) overflowed the stack.
 */
const maxOf = (xs: readonly number[]) => (xs.length ? xs.reduce((a, v) => (v > a ? v : a), -Infinity) : NaN);
const orNull = (x: number) => (Number.isFinite(x) ? x : null);

export interface FigureInputs {
  load: LoadResult;
  durationMs: number;
  fns: Map<string, FnInfo>;
  itemBytes: Map<string, number>;
  ceilings: Map<string, number>;
  before: ServerSnapshot;
  after: ServerSnapshot;
  /** Harness wall clock from the run's start to the server idle again, ms. */
  windowMs: number;
  energy: { busyWatts: number; idleWatts: number };
  predictions: Map<string, Prediction>;
  burst?: { atMs: number; lengthMs: number };
  /** A trickle scheduled after the measured part (its calls are not in the run's other figures). */
  trickle?: { ratePerSec: number; durationMs: number };
}

export function computeFigures(x: FigureInputs): RunFigures {
  const { load } = x;
  const fnAt = (i: number) => x.fns.get(load.fns[load.stream[i]])!;
  const measured: number[] = [];
  const trickle: number[] = [];
  for (let i = 0; i < load.status.length; i++) {
    if (load.warmup[i]) continue;
    if (load.scheduledMs[i] < x.durationMs) measured.push(i);
    else trickle.push(i);
  }
  const sec = x.durationMs / 1000;
  const isOk = (i: number) => load.status[i] === 200;
  const within = (i: number) => isOk(i) && load.latencyMs[i] <= fnAt(i).sloMs;
  const latencyOf = (i: number) => (isOk(i) ? load.latencyMs[i] : Infinity);
  const answeredOrTimedOut = (i: number) => isOk(i) || load.status[i] === 0;

  const lat = measured.filter(answeredOrTimedOut).map(latencyOf);
  const okIdx = measured.filter(isOk);
  const perFunction: Record<string, FunctionFigures> = {};
  for (const fn of new Set(measured.map((i) => fnAt(i).name))) {
    const idx = measured.filter((i) => fnAt(i).name === fn);
    const l = idx.filter(answeredOrTimedOut).map(latencyOf);
    const w = idx.filter(within).length;
    perFunction[fn] = {
      sloMs: x.fns.get(fn)!.sloMs,
      sent: idx.length,
      ok: idx.filter(isOk).length,
      withinSlo: w,
      shed: idx.filter((i) => load.status[i] === 503).length,
      sloAttainment: idx.length ? w / idx.length : NaN,
      p50Ms: quantile(l, 0.5),
      p99Ms: quantile(l, 0.99),
    };
  }

  const perModel: Record<string, ModelFigures> = {};
  let ceilingRatio = 0;
  let peakBatchBytes = 0;
  for (const model of new Set(measured.map((i) => fnAt(i).model))) {
    const idx = okIdx.filter((i) => fnAt(i).model === model);
    const batches = new Map<number, number>();
    for (const i of idx) if (load.batchId[i] > 0) batches.set(load.batchId[i], load.batchSize[i]);
    for (const i of idx) peakBatchBytes = Math.max(peakBatchBytes, load.batchSize[i] * (x.itemBytes.get(model) ?? 0));
    const tput = idx.length / sec;
    const ceiling = x.ceilings.get(model) ?? NaN;
    ceilingRatio += tput / ceiling;
    const device = idx.map((i) => load.serverQueueInferenceMs[i]).filter(Number.isFinite);
    perModel[model] = {
      throughputPerSec: tput,
      ceilingPerSec: ceiling,
      ceilingRatio: tput / ceiling,
      meanBatch: batches.size ? mean([...batches.values()]) : null,
      deviceSideMeanMs: device.length ? mean(device) : null,
      endToEndMeanMs: orNull(mean(idx.map((i) => load.latencyMs[i]))),
      predicted: x.predictions.get(model) ?? null,
    };
  }
  const allBatches = new Map<string, number>();
  for (const i of okIdx) if (load.batchId[i] > 0) allBatches.set(`${fnAt(i).model}:${load.batchId[i]}`, load.batchSize[i]);

  const busyMs = Math.max(0, x.after.busyMs - x.before.busyMs);
  let okAll = 0;
  for (let i = 0; i < load.status.length; i++) if (isOk(i)) okAll++;
  const joules =
    okAll > 0 && Number.isFinite(busyMs)
      ? (x.energy.busyWatts * Math.min(busyMs, x.windowMs) + x.energy.idleWatts * Math.max(0, x.windowMs - busyMs)) / 1000 / okAll
      : null;
  const withinCount = measured.filter(within).length;

  let burstWindow: RunFigures['burstWindow'] = null;
  if (x.burst) {
    const lo = x.burst.atMs;
    const hi = x.burst.atMs + x.burst.lengthMs + 500;
    const idx = measured.filter((i) => load.scheduledMs[i] >= lo && load.scheduledMs[i] < hi);
    const l = idx.filter(answeredOrTimedOut).map(latencyOf);
    burstWindow = {
      sent: idx.length,
      sloAttainment: idx.length ? idx.filter(within).length / idx.length : NaN,
      p99Ms: quantile(l, 0.99),
      maxMs: maxOf(l),
    };
  }

  const cpuMs = x.after.cpuMs - x.before.cpuMs;
  const job = { answered: 0, ok: okAll, shed: 0 };
  for (let i = 0; i < load.status.length; i++) {
    if (load.status[i] > 0) job.answered++;
    if (load.status[i] === 503) job.shed++;
  }
  const mainMs = mainThreadMsBetween(x.before, x.after);
  const lost = (i: number) => load.status[i] === 0 || load.status[i] === -1;
  return {
    offeredPerSec: measured.length / sec,
    sent: measured.length,
    ok: okIdx.length,
    withinSlo: withinCount,
    late: okIdx.length - withinCount,
    shed: measured.filter((i) => load.status[i] === 503).length,
    errors: measured.filter((i) => load.status[i] > 0 && load.status[i] !== 200 && load.status[i] !== 503).length,
    timeouts: measured.filter((i) => load.status[i] === 0).length,
    connectionErrors: measured.filter((i) => load.status[i] === -1).length,
    goodputPerSec: withinCount / sec,
    sloAttainment: measured.length ? withinCount / measured.length : NaN,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    meanMs: mean(okIdx.map((i) => load.latencyMs[i])),
    maxMs: maxOf(lat),
    throughputPerSec: okIdx.length / sec,
    ceilingRatio,
    meanBatch: allBatches.size ? mean([...allBatches.values()]) : null,
    joulesPerInference: joules,
    peakBatchBytes,
    eventLoopP99Ms: x.after.eventLoopP99Ms,
    busyFraction: x.windowMs > 0 && Number.isFinite(busyMs) ? busyMs / x.windowMs : NaN,
    serverCpuMsPerReply: Number.isFinite(cpuMs) && okAll > 0 ? cpuMs / okAll : null,
    job,
    mainThreadCpuMs: mainMs,
    mainThreadCpuUsPerCall: mainThreadUsPerCall(x.before, x.after, job.answered),
    hostStagesUsPerCall: stagesPerCall(x.before.hostStageSec, x.after.hostStageSec, job.answered),
    loadgenCpuMsPerRequest: load.status.length ? load.cpuMs / load.status.length : NaN,
    sendLagP99Ms: quantile(Array.from(load.sendLagMs), 0.99),
    peakConnections: load.peakConnections,
    perFunction,
    perModel,
    burstWindow,
    recovery: x.trickle
      ? recoveryFigures(trickle, x.trickle.ratePerSec, x.durationMs, {
          isOk,
          within,
          latencyOf,
          answeredOrTimedOut,
          lost,
          status: (i) => load.status[i],
          scheduledMs: (i) => load.scheduledMs[i],
        })
      : null,
  };
}

/** Main-thread CPU between two snapshots, ms; null where either lacks it. */
export function mainThreadMsBetween(before: ServerSnapshot, after: ServerSnapshot): number | null {
  if (before.mainThreadCpuMs === null || after.mainThreadCpuMs === null) return null;
  const ms = after.mainThreadCpuMs - before.mainThreadCpuMs;
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Main-thread CPU per call between two snapshots, us: the host path's figure, read the same way by the
 * sweep, the host-path pair and `npm run host-cost` (each says which calls it counts). Null without the
 * counter or without calls.
 */
export function mainThreadUsPerCall(before: ServerSnapshot, after: ServerSnapshot, calls: number): number | null {
  const ms = mainThreadMsBetween(before, after);
  return ms === null || calls === 0 ? null : (1000 * ms) / calls;
}

/** Main-thread us per call in each host stage between two snapshots; null when either lacks them. */
export function stagesPerCall(
  before: Record<string, number> | null,
  after: Record<string, number> | null,
  calls: number,
): Record<string, number> | null {
  if (!before || !after || calls === 0) return null;
  const out: Record<string, number> = {};
  for (const [stage, sec] of Object.entries(after)) out[stage] = (1e6 * (sec - (before[stage] ?? 0))) / calls;
  return out;
}

interface CallView {
  isOk(i: number): boolean;
  within(i: number): boolean;
  latencyOf(i: number): number;
  answeredOrTimedOut(i: number): boolean;
  lost(i: number): boolean;
  status(i: number): number;
  scheduledMs(i: number): number;
}

function recoveryFigures(idx: number[], ratePerSec: number, endMs: number, v: CallView): RecoveryFigures {
  const byTime = [...idx].sort((a, b) => v.scheduledMs(a) - v.scheduledMs(b));
  const l = byTime.filter(v.answeredOrTimedOut).map(v.latencyOf);
  const first = byTime.find(v.within);
  let lastMiss = -1;
  byTime.forEach((i, k) => {
    if (!v.within(i)) lastMiss = k;
  });
  const settled = lastMiss + 1 < byTime.length ? byTime[lastMiss + 1] : undefined;
  return {
    ratePerSec,
    sent: byTime.length,
    ok: byTime.filter(v.isOk).length,
    shed: byTime.filter((i) => v.status(i) === 503).length,
    lost: byTime.filter(v.lost).length,
    sloAttainment: byTime.length ? byTime.filter(v.within).length / byTime.length : NaN,
    p50Ms: quantile(l, 0.5),
    p99Ms: quantile(l, 0.99),
    firstWithinSloMs: first === undefined ? null : v.scheduledMs(first) - endMs,
    allWithinSloFromMs: settled === undefined ? null : v.scheduledMs(settled) - endMs,
  };
}
