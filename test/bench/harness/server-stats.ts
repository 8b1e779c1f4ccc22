/**
 * Reading a server's own counters. The hand-written peers answer GET /stats (peers/peer-kit.ts); the
 * runtime is read as shipped, through its Prometheus GET /metrics and GET /functions/:name.
 */
import type { Prediction, ServerSnapshot } from './figures.ts';

/** The samples of one metric family in Prometheus text: each line's label text and finite value. */
function* promSamples(text: string, name: string): Generator<{ labels: string; value: number }> {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) yield { labels: m[2] ?? '', value };
  }
}

/** Values of one metric family from Prometheus text, summed over every label set; null when absent. */
export function promSum(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const { value } of promSamples(text, name)) sum = (sum ?? 0) + value;
  return sum;
}

/**
 * Values of one metric family from Prometheus text, summed per value of `label` (over every other label),
 * or null when the family is absent. Lines without that label are left out.
 */
export function promByLabel(text: string, name: string, label: string): Record<string, number> | null {
  const labelRe = new RegExp(`(?:^|,)\\s*${label}="((?:[^"\\\\]|\\\\.)*)"`);
  let out: Record<string, number> | null = null;
  for (const { labels, value } of promSamples(text, name)) {
    const l = labelRe.exec(labels);
    if (!l) continue;
    out ??= {};
    out[l[1]] = (out[l[1]] ?? 0) + value;
  }
  return out;
}

/** The body of a GET, or an error on a non-2xx status or after `timeoutMs`. */
export async function getText(url: string, timeoutMs = 10000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/** Counters of a hand-written peer; also restarts its event-loop delay histogram. */
export async function peerSnapshot(base: string): Promise<ServerSnapshot> {
  const s = JSON.parse(await getText(`${base}/stats?reset=1`)) as {
    busyMs: number;
    cpuMs: number;
    mainThreadCpuMs?: number | null;
    eventLoopDelayMs: { p99: number };
  };
  return {
    busyMs: s.busyMs,
    cpuMs: s.cpuMs,
    mainThreadCpuMs: s.mainThreadCpuMs ?? null,
    eventLoopP99Ms: s.eventLoopDelayMs.p99,
    hostStageSec: null,
    batches: null,
  };
}

/**
 * Counters of the runtime. prom-client resets its event-loop delay histogram at every scrape, so the p99
 * read after a run covers exactly the time since the scrape before it. The main thread's own CPU
 * (`edgebatch_main_thread_cpu_seconds_total`) and the per-stage host time
 * (`edgebatch_host_stage_seconds_total{stage}`) are null where the runtime does not export them.
 */
export async function runtimeSnapshot(base: string): Promise<ServerSnapshot> {
  const text = await getText(`${base}/metrics`);
  const p99 = promSum(text, 'edgebatch_process_nodejs_eventloop_lag_p99_seconds');
  const cpu = promSum(text, 'edgebatch_process_process_cpu_seconds_total');
  const main = promSum(text, 'edgebatch_main_thread_cpu_seconds_total');
  return {
    busyMs: 1000 * (promSum(text, 'edgebatch_compute_infer_duration_seconds_sum') ?? 0),
    cpuMs: cpu === null ? NaN : cpu * 1000,
    mainThreadCpuMs: main === null ? null : main * 1000,
    eventLoopP99Ms: p99 === null ? null : p99 * 1000,
    hostStageSec: promByLabel(text, 'edgebatch_host_stage_seconds_total', 'stage'),
    batches: promSum(text, 'edgebatch_batch_size_count'),
  };
}

/** The runtime's formula for one function right now (GET /functions/:name), or null when it has none. */
export async function runtimePrediction(base: string, fn: string): Promise<Prediction | null> {
  try {
    const d = JSON.parse(await getText(`${base}/functions/${fn}`, 3000)) as {
      fit: { alphaMs: number; tau0Ms: number; r2?: number | null; quality?: string | number | null } | null;
      live?: { ratePerSec?: number };
      prediction: {
        meanLatencyBoundMs: number | null;
        holdMs: number;
        expectedBatch: number | null;
        maxRatePerSec: number | null;
        joulesPerInference: number | null;
      } | null;
    };
    if (!d.prediction) return null;
    return {
      meanLatencyBoundMs: d.prediction.meanLatencyBoundMs,
      holdMs: d.prediction.holdMs,
      expectedBatch: d.prediction.expectedBatch,
      maxRatePerSec: d.prediction.maxRatePerSec,
      joulesPerInference: d.prediction.joulesPerInference,
      alphaMs: d.fit?.alphaMs ?? null,
      tau0Ms: d.fit?.tau0Ms ?? null,
      r2: typeof d.fit?.r2 === 'number' ? d.fit.r2 : null,
      fitQuality: d.fit?.quality ?? null,
      liveRatePerSec: d.live?.ratePerSec ?? null,
    };
  } catch {
    return null;
  }
}

/** Field-wise mean of several samples (nulls skipped; a field with no value stays null; the fit's quality: the last one given). */
export function meanPrediction(samples: readonly Prediction[]): Prediction | null {
  if (samples.length === 0) return null;
  const avg = (k: Exclude<keyof Prediction, 'fitQuality'>) => {
    const v = samples.map((s) => s[k]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return {
    meanLatencyBoundMs: avg('meanLatencyBoundMs'),
    holdMs: avg('holdMs') ?? 0,
    expectedBatch: avg('expectedBatch'),
    maxRatePerSec: avg('maxRatePerSec'),
    joulesPerInference: avg('joulesPerInference'),
    alphaMs: avg('alphaMs'),
    tau0Ms: avg('tau0Ms'),
    r2: avg('r2'),
    fitQuality:
      samples
        .map((s) => s.fitQuality)
        .filter((q) => q !== null)
        .at(-1) ?? null,
    liveRatePerSec: avg('liveRatePerSec'),
  };
}
