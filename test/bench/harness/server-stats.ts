/**
 * Reading a server's own counters. The hand-written peers answer GET /stats (peers/peer-kit.ts); the
 * runtime is read as shipped, through its Prometheus GET /metrics and GET /functions/:name.
 */
import type { Prediction, ServerSnapshot } from './figures.ts';

/** Values of one metric family from Prometheus text, summed over every label set. */
export function promSum(text: string, name: string): number | null {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) {
      const v = Number(m[3]);
      if (Number.isFinite(v)) {
        sum += v;
        seen = true;
      }
    }
  }
  return seen ? sum : null;
}

async function getText(url: string, timeoutMs = 10000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/** Counters of a hand-written peer; also restarts its event-loop delay histogram. */
export async function peerSnapshot(base: string): Promise<ServerSnapshot> {
  const s = JSON.parse(await getText(`${base}/stats?reset=1`)) as { busyMs: number; cpuMs: number; eventLoopDelayMs: { p99: number } };
  return { busyMs: s.busyMs, cpuMs: s.cpuMs, eventLoopP99Ms: s.eventLoopDelayMs.p99 };
}

/**
 * Counters of the runtime. prom-client resets its event-loop delay histogram at every scrape, so the p99
 * read after a run covers exactly the time since the scrape before it.
 */
export async function runtimeSnapshot(base: string): Promise<ServerSnapshot> {
  const text = await getText(`${base}/metrics`);
  const p99 = promSum(text, 'edgebatch_process_nodejs_eventloop_lag_p99_seconds');
  const cpu = promSum(text, 'edgebatch_process_process_cpu_seconds_total');
  return {
    busyMs: promSum(text, 'edgebatch_batch_run_ms_sum') ?? 0,
    cpuMs: cpu === null ? NaN : cpu * 1000,
    eventLoopP99Ms: p99 === null ? null : p99 * 1000,
  };
}

/** The runtime's formula for one function right now (GET /functions/:name), or null when it has none. */
export async function runtimePrediction(base: string, fn: string): Promise<Prediction | null> {
  try {
    const d = JSON.parse(await getText(`${base}/functions/${fn}`, 3000)) as {
      fit: { alphaMs: number; tau0Ms: number } | null;
      live?: { ratePerSec?: number };
      prediction: { meanLatencyBoundMs: number | null; holdMs: number; expectedBatch: number | null; maxRatePerSec: number | null; joulesPerInference: number | null } | null;
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
      liveRatePerSec: d.live?.ratePerSec ?? null,
    };
  } catch {
    return null;
  }
}

/** Field-wise mean of several samples (nulls skipped; a field with no value stays null). */
export function meanPrediction(samples: readonly Prediction[]): Prediction | null {
  if (samples.length === 0) return null;
  const avg = (k: keyof Prediction) => {
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
    liveRatePerSec: avg('liveRatePerSec'),
  };
}
