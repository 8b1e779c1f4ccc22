/**
 * Figures derived across runs of one bench (pure: BenchData in, rows out), shared by results.md,
 * results.json and the console summary: overload against capacity, the cost of a shed, main-thread CPU
 * per call against hono-echo's, the host stages, and the runtime's fit under load against the ceiling's.
 */
import type { RunRecord } from '../harness/session.ts';
import type { BenchData } from './report.ts';

const capacityLabel = '1.00C';

/** A peer's capacity run of a model: its sweep run at 1.0C. */
export function capacityRun(data: BenchData, peer: string, model: string): RunRecord | undefined {
  return data.runs.find((r) => r.peer === peer && r.scenario === `sweep:${model}` && r.label === capacityLabel);
}

const div = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || !(b !== 0) ? null : Number.isFinite(a / b) ? a / b : null;

export interface OverloadRow {
  peer: string;
  label: string;
  offeredPerSec: number;
  goodputPerSec: number;
  goodputAtCPerSec: number | null;
  /** Goodput at the overload over goodput at capacity, same peer, same bench. */
  ratio: number | null;
  sent: number;
  ok: number;
  shed: number;
  other: number;
  lost: number;
  eventLoopP99Ms: number | null;
  recovery: RunRecord['figures']['recovery'];
  noted: boolean;
}

export function overloadRows(data: BenchData): OverloadRow[] {
  return data.runs
    .filter((r) => r.scenario === 'overload:mlp')
    .map((r) => {
      const f = r.figures;
      const atC = capacityRun(data, r.peer, 'mlp')?.figures.goodputPerSec ?? null;
      return {
        peer: r.peer,
        label: r.label,
        offeredPerSec: f.offeredPerSec,
        goodputPerSec: f.goodputPerSec,
        goodputAtCPerSec: atC,
        ratio: div(f.goodputPerSec, atC),
        sent: f.sent,
        ok: f.ok,
        shed: f.shed,
        other: f.errors,
        lost: f.timeouts + (f.connectionErrors ?? 0),
        eventLoopP99Ms: f.eventLoopP99Ms,
        recovery: f.recovery,
        noted: r.notes.length > 0,
      };
    });
}

/** Per peer and model: goodput at the sweep's highest fraction over goodput at 1.0C. */
export function sweepTopRatios(
  data: BenchData,
): { peer: string; model: string; fraction: number; goodputPerSec: number; goodputAtCPerSec: number; ratio: number | null }[] {
  const out: ReturnType<typeof sweepTopRatios> = [];
  for (const p of data.peers) {
    for (const model of Object.keys(data.capacity)) {
      const sweep = data.runs.filter((r) => r.peer === p.name && r.scenario === `sweep:${model}`);
      const atC = capacityRun(data, p.name, model);
      if (!sweep.length || !atC) continue;
      const top = sweep.reduce((a, r) => (r.fraction > a.fraction ? r : a));
      if (top === atC) continue;
      out.push({
        peer: p.name,
        model,
        fraction: top.fraction,
        goodputPerSec: top.figures.goodputPerSec,
        goodputAtCPerSec: atC.figures.goodputPerSec,
        ratio: div(top.figures.goodputPerSec, atC.figures.goodputPerSec),
      });
    }
  }
  return out;
}

export interface ShedCost {
  peer: string;
  /** Main-thread us per served call (200 reply). */
  servedUs: number | null;
  /** Main-thread us per 503. */
  shedUs: number | null;
  ratio: number | null;
  /** 'solved': from both runs' mixes of 200s and 503s; 'capacity run': served cost = the capacity run's CPU over its 200s. */
  method: 'solved' | 'capacity run' | null;
  capacityServed: number;
  capacityShed: number;
  overloadServed: number;
  overloadShed: number;
}

/**
 * The cost of a shed from main-thread CPU (whole jobs): the capacity run (mlp 1.00C) gives the cost of a
 * served call, c_served = its CPU / its 200s, and the overload run the cost of a 503,
 * c_shed = (its CPU - its 200s x c_served) / its 503s. Where the capacity run shed 5% of its calls or
 * more, both costs are solved from the two runs together (two equations cpu = served x c_served +
 * shed x c_shed), which is the same when it shed nothing. Both assume a served call costs the same at C
 * and at 3C; main-thread CPU per call falls as the rate grows (per-second costs spread thinner, larger
 * batches), so when the overload run sheds few calls the estimate is noise and can come out negative.
 */
export function shedCosts(data: BenchData): ShedCost[] {
  return data.runs
    .filter((r) => r.scenario === 'overload:mlp')
    .map((o) => {
      const c = capacityRun(data, o.peer, 'mlp');
      const cpuC = c?.figures.mainThreadCpuMs ?? null;
      const cpuO = o.figures.mainThreadCpuMs;
      const a = c?.figures.job ?? { ok: 0, shed: 0 };
      const b = o.figures.job;
      const out = { peer: o.peer, capacityServed: a.ok, capacityShed: a.shed, overloadServed: b.ok, overloadShed: b.shed };
      if (cpuC === null || cpuO === null || a.ok === 0 || b.shed === 0)
        return { ...out, servedUs: null, shedUs: null, ratio: null, method: null };
      const det = a.ok * b.shed - b.ok * a.shed;
      // Solve when the capacity run shed a good part (5%) and the two mixes differ enough; else it counts as all served.
      const solve = a.shed >= 0.05 * (a.ok + a.shed) && det > 0.5 * a.ok * b.shed;
      const servedUs = solve ? (1000 * (cpuC * b.shed - cpuO * a.shed)) / det : (1000 * cpuC) / a.ok;
      const shedUs = solve ? (1000 * (a.ok * cpuO - b.ok * cpuC)) / det : (1000 * cpuO - b.ok * servedUs) / b.shed;
      return { ...out, servedUs, shedUs, ratio: div(shedUs, servedUs), method: solve ? ('solved' as const) : ('capacity run' as const) };
    });
}

export interface HostCpuRow {
  peer: string;
  model: string;
  offeredPerSec: number;
  mainUsPerCall: number | null;
  processUsPerReply: number | null;
  echoUsPerCall: number | null;
  /** This peer's main-thread CPU per call over hono-echo's at the same offered rate. */
  ratio: number | null;
}

/** Main-thread CPU per call at each inference peer's capacity run, against hono-echo's at the same schedule. */
export function hostCpuRows(data: BenchData): HostCpuRow[] {
  const echo = data.peers.find((p) => p.echo);
  const out: HostCpuRow[] = [];
  for (const model of Object.keys(data.capacity)) {
    const e = echo && data.runs.find((r) => r.peer === echo.name && r.scenario === `host:${model}` && r.label === capacityLabel);
    const echoUs = e?.figures.mainThreadCpuUsPerCall ?? null;
    for (const p of data.peers) {
      const r = p.echo ? e : capacityRun(data, p.name, model);
      if (!r) continue;
      const f = r.figures;
      out.push({
        peer: p.name,
        model,
        offeredPerSec: f.offeredPerSec,
        mainUsPerCall: f.mainThreadCpuUsPerCall,
        processUsPerReply: f.serverCpuMsPerReply === null ? null : 1000 * f.serverCpuMsPerReply,
        echoUsPerCall: echoUs,
        ratio: div(f.mainThreadCpuUsPerCall, echoUs),
      });
    }
  }
  return out;
}

/** Host stages (us per call) of the runtime peers at their capacity runs; `stages` is every stage seen. */
export function stageRows(data: BenchData): {
  stages: string[];
  rows: { peer: string; model: string; perStage: Record<string, number> | null; mainUsPerCall: number | null }[];
} {
  const rows: ReturnType<typeof stageRows>['rows'] = [];
  const stages = new Set<string>();
  for (const model of Object.keys(data.capacity)) {
    for (const p of data.peers.filter((x) => x.kind === 'runtime')) {
      const r = capacityRun(data, p.name, model);
      if (!r) continue;
      const s = r.figures.hostStagesUsPerCall ?? null;
      for (const k of Object.keys(s ?? {})) stages.add(k);
      rows.push({ peer: p.name, model, perStage: s, mainUsPerCall: r.figures.mainThreadCpuUsPerCall });
    }
  }
  const known = ['read', 'parse', 'validate', 'pre', 'handover', 'post', 'reply'];
  const ordered = [...known.filter((k) => stages.has(k)), ...[...stages].filter((k) => !known.includes(k)).sort()];
  return { stages: ordered.length ? ordered : known, rows };
}

export interface FitRow {
  peer: string;
  scenario: string;
  label: string;
  model: string;
  alphaMs: number | null;
  tau0Ms: number | null;
  r2: number | null;
  quality: string | number | null;
  ceilingAlphaMs: number | null;
  ceilingTau0Ms: number | null;
  maxRatePerSec: number | null;
  capacityPerSec: number | null;
  /** The formula's max rate within the SLO over the measured capacity C. */
  maxRateOverC: number | null;
}

/** The runtime's fitted cost and predicted max rate during each of its runs, against the ceiling's fit and C. */
export function fitRows(data: BenchData): FitRow[] {
  const out: FitRow[] = [];
  for (const r of data.runs) {
    for (const [model, m] of Object.entries(r.figures.perModel)) {
      const p = m.predicted;
      if (!p) continue;
      const ceiling = data.ceilings.find((c) => c.model === model);
      const cap = data.capacity[model] ?? null;
      out.push({
        peer: r.peer,
        scenario: r.scenario,
        label: r.label,
        model,
        alphaMs: p.alphaMs,
        tau0Ms: p.tau0Ms,
        r2: p.r2 ?? null,
        quality: p.fitQuality ?? null,
        ceilingAlphaMs: ceiling && Number.isFinite(ceiling.alphaMs) ? ceiling.alphaMs : null,
        ceilingTau0Ms: ceiling && Number.isFinite(ceiling.tau0Ms) ? ceiling.tau0Ms : null,
        maxRatePerSec: p.maxRatePerSec,
        capacityPerSec: cap,
        maxRateOverC: div(p.maxRatePerSec, cap),
      });
    }
  }
  return out;
}
