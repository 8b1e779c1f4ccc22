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
  cpuMs: number;
  eventLoopP99Ms: number | null;
}

export interface Prediction {
  meanLatencyBoundMs: number | null;
  holdMs: number;
  expectedBatch: number | null;
  maxRatePerSec: number | null;
  joulesPerInference: number | null;
  alphaMs: number | null;
  tau0Ms: number | null;
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

export interface RunFigures {
  offeredPerSec: number;
  sent: number;
  ok: number;
  withinSlo: number;
  late: number;
  shed: number;
  errors: number;
  timeouts: number;
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
  loadgenCpuMsPerRequest: number;
  sendLagP99Ms: number;
  peakConnections: number;
  perFunction: Record<string, FunctionFigures>;
  perModel: Record<string, ModelFigures>;
  /** Requests scheduled in the burst (and the 500 ms after it), when the run had one. */
  burstWindow: { sent: number; sloAttainment: number; p99Ms: number; maxMs: number } | null;
}

/** The q-quantile (0..1) of `xs` by nearest rank; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, v) => a + v, 0) / xs.length : NaN);
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
}

export function computeFigures(x: FigureInputs): RunFigures {
  const { load } = x;
  const fnAt = (i: number) => x.fns.get(load.fns[load.stream[i]])!;
  const measured: number[] = [];
  for (let i = 0; i < load.status.length; i++) if (!load.warmup[i]) measured.push(i);
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
  const joules = okAll > 0 && Number.isFinite(busyMs) ? (x.energy.busyWatts * Math.min(busyMs, x.windowMs) + x.energy.idleWatts * Math.max(0, x.windowMs - busyMs)) / 1000 / okAll : null;
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
      maxMs: l.length ? Math.max(...l) : NaN,
    };
  }

  const cpuMs = x.after.cpuMs - x.before.cpuMs;
  return {
    offeredPerSec: measured.length / sec,
    sent: measured.length,
    ok: okIdx.length,
    withinSlo: withinCount,
    late: okIdx.length - withinCount,
    shed: measured.filter((i) => load.status[i] === 503).length,
    errors: measured.filter((i) => load.status[i] !== 200 && load.status[i] !== 503 && load.status[i] !== 0).length,
    timeouts: measured.filter((i) => load.status[i] === 0).length,
    goodputPerSec: withinCount / sec,
    sloAttainment: measured.length ? withinCount / measured.length : NaN,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    meanMs: mean(okIdx.map((i) => load.latencyMs[i])),
    maxMs: lat.length ? Math.max(...lat) : NaN,
    throughputPerSec: okIdx.length / sec,
    ceilingRatio,
    meanBatch: allBatches.size ? mean([...allBatches.values()]) : null,
    joulesPerInference: joules,
    peakBatchBytes,
    eventLoopP99Ms: x.after.eventLoopP99Ms,
    busyFraction: x.windowMs > 0 && Number.isFinite(busyMs) ? busyMs / x.windowMs : NaN,
    serverCpuMsPerReply: Number.isFinite(cpuMs) && okAll > 0 ? cpuMs / okAll : null,
    loadgenCpuMsPerRequest: load.status.length ? load.cpuMs / load.status.length : NaN,
    sendLagP99Ms: quantile(Array.from(load.sendLagMs), 0.99),
    peakConnections: load.peakConnections,
    perFunction,
    perModel,
    burstWindow,
  };
}
