/**
 * Writes the benchmark's outputs: results.json (every figure of every run), results.md (tables and the
 * ratios that matter) and SVG charts (latency and goodput against offered load per model, SLO attainment
 * per scenario).
 */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CeilingResult } from '../ceiling.ts';
import type { Knee } from '../harness/capacity.ts';
import type { FnInfo, RunFigures } from '../harness/figures.ts';
import type { HostPairResult } from '../harness/host-pair.ts';
import type { FixedDelaySetting, RunRecord } from '../harness/session.ts';
import type { PeerDef, Plan } from '../plan.ts';
import { capacitySection, fitSection, hostSection, overloadSection } from './sections.ts';
import { barChart, lineChart, type Series } from './svg.ts';
import { n, pct } from './format.ts';

export interface BenchData {
  meta: Record<string, unknown>;
  plan: Plan;
  peers: PeerDef[];
  functions: FnInfo[];
  itemBytes: Record<string, number>;
  ceilings: CeilingResult[];
  /** C per model: the open-loop knee of the capacity peer. */
  capacity: Record<string, number>;
  /** Every knee search (the capacity peer's per model, hono-echo's). */
  knees: Knee[];
  /** Closed-loop throughput per model and peer: the cross-check. */
  calibration: Record<string, { peer: string; perSec: number; meanBatch: number; concurrency: number; fn: string }[]>;
  fixedDelay: Record<string, FixedDelaySetting>;
  restarts: Record<string, number>;
  runs: RunRecord[];
  /** The runtime and hono-echo loaded together (absent from results.json files written before it existed). */
  hostPair?: HostPairResult;
}

export const COLORS: Record<string, string> = {
  slo: '#2ca02c',
  greedy: '#1f77b4',
  'fixed-delay': '#ff7f0e',
  dataloader: '#9467bd',
  naive: '#8c564b',
  'hono-echo': '#7f7f7f',
};

/** Peers that run inference (every peer but hono-echo): the ones goodput and ratio tables compare. */
const inferencePeers = (data: BenchData) => data.peers.filter((p) => !p.echo).map((p) => p.name);

/** Goodput of `slo` over the best other peer in each run, and which peer that was. */
export function goodputRatios(
  data: BenchData,
): { scenario: string; label: string; slo: number; best: string; bestGoodput: number; ratio: number | null }[] {
  const out: ReturnType<typeof goodputRatios> = [];
  const keys = [...new Set(data.runs.map((r) => `${r.scenario}\u0000${r.label}`))];
  for (const key of keys) {
    const [scenario, label] = key.split('\u0000');
    const here = data.runs.filter((r) => r.scenario === scenario && r.label === label);
    const ours = here.find((r) => r.peer === 'slo');
    const others = here.filter((r) => r.peer !== 'slo' && inferencePeers(data).includes(r.peer));
    if (!ours || others.length === 0) continue;
    const best = others.reduce((a, r) => (r.figures.goodputPerSec > a.figures.goodputPerSec ? r : a));
    out.push({
      scenario,
      label,
      slo: ours.figures.goodputPerSec,
      best: best.peer,
      bestGoodput: best.figures.goodputPerSec,
      ratio: best.figures.goodputPerSec > 0 ? ours.figures.goodputPerSec / best.figures.goodputPerSec : null,
    });
  }
  return out;
}

/** Per peer and model: the highest throughput any sweep run reached, over the ceiling. */
export function saturationRatios(
  data: BenchData,
): { peer: string; model: string; throughputPerSec: number; ceilingPerSec: number; ratio: number }[] {
  const out: ReturnType<typeof saturationRatios> = [];
  for (const c of data.ceilings) {
    for (const p of data.peers.filter((x) => !x.echo)) {
      const sweep = data.runs.filter((r) => r.peer === p.name && r.scenario === `sweep:${c.model}`);
      if (!sweep.length) continue;
      const t = Math.max(...sweep.map((r) => r.figures.throughputPerSec));
      out.push({ peer: p.name, model: c.model, throughputPerSec: t, ceilingPerSec: c.itemsPerSec, ratio: t / c.itemsPerSec });
    }
  }
  return out;
}

function predictedVsMeasured(f: RunFigures): string {
  const parts: string[] = [];
  for (const [model, m] of Object.entries(f.perModel)) {
    if (!m.predicted || m.predicted.meanLatencyBoundMs === null) continue;
    parts.push(`${Object.keys(f.perModel).length > 1 ? `${model}: ` : ''}${n(m.predicted.meanLatencyBoundMs)} / ${n(m.deviceSideMeanMs)}`);
  }
  return parts.join('; ') || '-';
}

function runTable(runs: RunRecord[], order: string[]): string[] {
  const lines = [
    '| load | peer | offered/s | goodput/s | SLO att. | shed | late | lost | p50 ms | p99 ms | tput/ceiling | mean batch | J/inf | peak batch KB | loop p99 ms | main us/call | U / measured ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const labels = [...new Set(runs.map((r) => r.label))];
  for (const label of labels) {
    for (const peer of order) {
      const r = runs.find((x) => x.label === label && x.peer === peer);
      if (!r) continue;
      const f = r.figures;
      lines.push(
        `| ${label} | ${peer}${r.notes.length ? ' (!)' : ''} | ${n(f.offeredPerSec, 0)} | ${n(f.goodputPerSec, 0)} | ${pct(f.sloAttainment)} | ${f.shed} | ${f.late} | ${f.timeouts + (f.connectionErrors ?? 0)} | ${n(f.p50Ms)} | ${n(f.p99Ms)} | ${n(f.ceilingRatio, 3)} | ${n(f.meanBatch)} | ${n(f.joulesPerInference, 3)} | ${n(f.peakBatchBytes / 1024)} | ${n(f.eventLoopP99Ms)} | ${n(f.mainThreadCpuUsPerCall, 0)} | ${predictedVsMeasured(f)} |`,
      );
    }
  }
  return lines;
}

const SCENARIO_TITLES: Record<string, string> = {
  'sweep:mlp': 'Rate sweep, mlp (mlp-classify, SLO 50 ms)',
  'sweep:ocr-cls': 'Rate sweep, ocr-cls (text-direction, SLO 100 ms)',
  'burst:mlp': "Seed 003's burst, mlp (rate doubled for 300 ms)",
  'burst:ocr-cls': "Seed 003's burst, ocr-cls (rate doubled for 300 ms)",
  'two-slo': 'Two SLOs on one model: mlp-classify (50 ms) + mlp-scores (200 ms), half each',
  'two-models': 'Two models sharing the device: mlp-classify + text-direction, each at half the fraction of its C',
  'overload:mlp': 'Sustained overload, mlp (mlp-classify, SLO 50 ms), then a recovery trickle (figures without the trickle)',
  'host:mlp': 'Host path, mlp bodies: hono-echo on the schedule of the sweep run at the same fraction',
  'host:ocr-cls': 'Host path, ocr-cls bodies: hono-echo on the schedule of the sweep run at the same fraction',
};

export function markdown(data: BenchData): string {
  const order = data.peers.map((p) => p.name);
  const L: string[] = [];
  const m = data.meta;
  L.push('# edgebatch benchmark results', '');
  L.push(
    `Plan **${data.plan.name}**, ${m.date}, ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.threadsPerLane} intra-op thread(s) per lane, ${m.lanes} lane(s); took ${m.seconds} s.`,
  );
  L.push(
    `Each run: ${data.plan.leadInMs} ms lead-in (not counted), ${data.plan.durationMs} ms measured, replies awaited ${data.plan.drainMs} ms after the last send. Open loop, seeded Poisson arrivals, the same schedule for every peer. Load generator: ${m.client}.`,
    '',
  );
  L.push('## Peers', '');
  for (const p of data.peers) L.push(`- **${p.name}**: ${p.what}`);
  const fd = Object.entries(data.fixedDelay).map(
    ([model, s]) => `${model}: preferred batch ${s.preferredBatchSize}, max queue delay ${s.maxQueueDelayMs} ms`,
  );
  L.push(
    '',
    `Fixed-delay setting (Triton's advice: preferred batch = what the model reaches at the target rate ${data.plan.targetFraction}C, measured from the greedy run nearest to it; max queue delay = 10% of the tightest SLO on the model): ${fd.join('; ') || 'n/a'}.`,
  );
  L.push(
    "The runtime peers run hono.config.ts as shipped apart from the policy (admission control included: its 503s are counted as shed). Naive and DataLoader run the same handler files (schema, pre, post) with sessions opened like a lane's. hono-echo does no inference: it runs only its knee search and the host-path runs, and is left out of goodput and ratio tables.",
    '',
  );

  L.push(...capacitySection(data));

  L.push('## Ratios', '', '### Goodput of slo (ours) over the best other peer, per run', '');
  L.push('| scenario | load | slo goodput/s | best other | its goodput/s | ratio |', '| --- | --- | ---: | --- | ---: | ---: |');
  for (const g of goodputRatios(data))
    L.push(`| ${g.scenario} | ${g.label} | ${g.slo.toFixed(0)} | ${g.best} | ${g.bestGoodput.toFixed(0)} | **${n(g.ratio, 2)}** |`);
  L.push('', '### Highest throughput in the sweep over the ceiling', '');
  const inf = inferencePeers(data);
  L.push(`| model | ${inf.join(' | ')} |`, `| --- | ${inf.map(() => '---:').join(' | ')} |`);
  for (const c of data.ceilings) {
    const row = inf.map((p) => {
      const s = saturationRatios(data).find((x) => x.peer === p && x.model === c.model);
      return s ? `${s.ratio.toFixed(3)} (${s.throughputPerSec.toFixed(0)}/s)` : '-';
    });
    L.push(`| ${c.model} | ${row.join(' | ')} |`);
  }
  L.push('');
  L.push(...overloadSection(data), ...hostSection(data), ...fitSection(data));

  L.push('## Runs', '');
  L.push(
    "Columns: goodput = 200 replies within the SLO per second; SLO att. = those over all sent; shed = 503 (admission control, not counted late); late = 200 after the SLO; p50/p99 over 200 replies and timeouts; tput/ceiling = 200 replies/s over the bare-loop ceiling (summed shares with two models); mean batch over distinct batches; J/inf modelled from busy device time (busyWatts/idleWatts of hono.config.ts); peak batch = largest batch input; loop p99 = server event-loop delay p99; main us/call = main-thread CPU of the server per call answered (the whole job); lost = timeouts and failed connections; U / measured = the runtime formula's mean-latency bound at the live rate (GET /functions/:name, sampled during the run) / the measured mean queue + inference (Server-Timing). (!) = see notes.",
    '',
  );
  for (const scenario of [...new Set(data.runs.map((r) => r.scenario))]) {
    L.push(`### ${SCENARIO_TITLES[scenario] ?? scenario}`, '');
    L.push(
      ...runTable(
        data.runs.filter((r) => r.scenario === scenario),
        order,
      ),
      '',
    );
    if (scenario.startsWith('burst:')) {
      L.push(
        'Requests scheduled in the burst and the 500 ms after it:',
        '',
        '| peer | sent | SLO att. | p99 ms | max ms |',
        '| --- | ---: | ---: | ---: | ---: |',
      );
      for (const r of data.runs.filter((x) => x.scenario === scenario)) {
        const b = r.figures.burstWindow;
        if (b) L.push(`| ${r.peer} | ${b.sent} | ${pct(b.sloAttainment)} | ${n(b.p99Ms)} | ${n(b.maxMs)} |`);
      }
      L.push('');
    }
    if (scenario === 'two-slo' || scenario === 'two-models') {
      L.push(
        'Per function:',
        '',
        '| load | peer | function (SLO) | sent | SLO att. | shed | p50 ms | p99 ms |',
        '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
      );
      for (const r of data.runs.filter((x) => x.scenario === scenario)) {
        for (const [fn, f] of Object.entries(r.figures.perFunction))
          L.push(
            `| ${r.label} | ${r.peer} | ${fn} (${f.sloMs} ms) | ${f.sent} | ${pct(f.sloAttainment)} | ${f.shed} | ${n(f.p50Ms)} | ${n(f.p99Ms)} |`,
          );
      }
      L.push('');
    }
  }
  const notes = data.runs.filter((r) => r.notes.length);
  L.push('## Caveats', '');
  L.push(
    '- Busy device time: the runtime reports `edgebatch_compute_infer_duration_seconds`, `session.run` as its lane times it (what its cost fit learns); naive and DataLoader report their own timed `session.run`. Both leave out the hand-over to and from the device, so J/inf compares like with like.',
  );
  L.push(
    `- ${notes.length} of ${data.runs.length} runs carry a note (other processes on the machine, hypervisor steal, a restarted server): compare those with care. Per-request columns of every run are in bench-results/tmp/raw/.`,
  );
  L.push('');
  if (notes.length) {
    L.push('## Notes', '');
    for (const r of notes) L.push(`- ${r.peer}, ${r.scenario} ${r.label}: ${r.notes.join('; ')}`);
    L.push('');
  }
  L.push('## Charts', '');
  for (const c of data.ceilings) L.push(`- latency-${c.model}.svg, goodput-${c.model}.svg`);
  L.push('- scenarios.svg', '');
  return L.join('\n');
}

function charts(data: BenchData): Record<string, string> {
  const out: Record<string, string> = {};
  const order = data.peers.map((p) => p.name);
  for (const c of data.ceilings) {
    const scenario = `sweep:${c.model}`;
    const runs = data.runs.filter((r) => r.scenario === scenario);
    if (!runs.length) continue;
    const fn = Object.keys(runs[0].figures.perFunction)[0];
    const slo = data.functions.find((f) => f.name === fn)?.sloMs ?? NaN;
    const series: Series[] = [];
    for (const peer of order) {
      const mine = runs.filter((r) => r.peer === peer);
      if (!mine.length) continue;
      series.push({
        label: `${peer} p99`,
        color: COLORS[peer] ?? '#333',
        points: mine.map((r) => ({ x: r.figures.offeredPerSec, y: r.figures.p99Ms })),
      });
      series.push({
        label: `${peer} p50`,
        color: COLORS[peer] ?? '#333',
        dashed: true,
        marker: 'none',
        points: mine.map((r) => ({ x: r.figures.offeredPerSec, y: r.figures.p50Ms })),
      });
    }
    const ours = runs.filter((r) => r.peer === 'slo');
    const bound = ours
      .map((r) => ({ x: r.figures.offeredPerSec, y: r.figures.perModel[c.model]?.predicted?.meanLatencyBoundMs ?? NaN }))
      .filter((p) => Number.isFinite(p.y));
    if (bound.length) series.push({ label: 'formula U_h (slo, live)', color: '#000000', dashed: true, marker: 'square', points: bound });
    const measured = ours
      .map((r) => ({ x: r.figures.offeredPerSec, y: r.figures.perModel[c.model]?.deviceSideMeanMs ?? NaN }))
      .filter((p) => Number.isFinite(p.y));
    if (measured.length) series.push({ label: 'slo: measured queue+device', color: '#777777', marker: 'square', points: measured });
    out[`latency-${c.model}.svg`] = lineChart({
      title: `Latency vs offered load: ${c.model} (${fn})`,
      subtitle: `p99 solid, p50 dashed; capacity C = ${n(data.capacity[c.model], 0)} req/s; ceiling ${c.itemsPerSec.toFixed(0)} items/s; ${data.plan.name} plan`,
      xLabel: 'offered load (requests/s)',
      yLabel: 'latency (ms)',
      logY: true,
      series,
      refLines: [{ label: `SLO ${slo} ms`, color: '#d62728', y: slo }],
    });
    out[`goodput-${c.model}.svg`] = lineChart({
      title: `Goodput vs offered load: ${c.model} (${fn}, SLO ${slo} ms)`,
      subtitle: `replies within the SLO per second; capacity C = ${n(data.capacity[c.model], 0)} req/s; ${data.plan.name} plan`,
      xLabel: 'offered load (requests/s)',
      yLabel: 'goodput (replies within SLO / s)',
      series: order
        .filter((p) => runs.some((r) => r.peer === p))
        .map((peer) => ({
          label: peer,
          color: COLORS[peer] ?? '#333',
          points: runs.filter((r) => r.peer === peer).map((r) => ({ x: r.figures.offeredPerSec, y: r.figures.goodputPerSec })),
        })),
      identity: { label: 'offered (all within SLO)', color: '#999999' },
    });
  }
  const other = data.runs.filter((r) => !r.scenario.startsWith('sweep:') && !r.scenario.startsWith('host:'));
  const groups = [...new Set(other.map((r) => `${r.scenario}\n${r.label}`))];
  // Axis labels: scenario, then the load cut at its commas, so six groups stay legible side by side.
  const shown = groups.map((g) =>
    g
      .replace(' of C shared', 'C shared')
      .replace(/C for (\d+ s)/, 'C, $1')
      .split(', ')
      .join('\n'),
  );
  if (groups.length) {
    out['scenarios.svg'] = barChart({
      title: 'SLO attainment per scenario',
      subtitle: `share of requests answered 200 within their SLO (shed, late and timed out all miss); ${data.plan.name} plan`,
      yLabel: 'SLO attainment (%)',
      groups: shown,
      yMax: 100,
      bars: order
        .filter((peer) => other.some((r) => r.peer === peer))
        .map((peer) => ({
          label: peer,
          color: COLORS[peer] ?? '#333',
          values: groups.map((g) => {
            const [scenario, label] = g.split('\n');
            const r = other.find((x) => x.peer === peer && x.scenario === scenario && x.label === label);
            return r ? 100 * r.figures.sloAttainment : null;
          }),
        })),
    });
  }
  return out;
}

/** JSON-safe copy: Infinity and NaN become strings/null so nothing is silently lost. */
function jsonSafe(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? null : v > 0 ? 'Infinity' : '-Infinity') : v),
    2,
  );
}

export async function writeReport(outDir: string, data: BenchData): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    const f = path.join(outDir, name);
    await writeFile(f, text);
    files.push(f);
  };
  await write('results.json', jsonSafe({ ...data, ratios: { goodput: goodputRatios(data), saturation: saturationRatios(data) } }));
  await write('results.md', markdown(data));
  for (const [name, svg] of Object.entries(charts(data))) await write(name, svg);
  return files;
}
