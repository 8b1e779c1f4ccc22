/**
 * `npm run bench:edge`: the edge tier's scale-out scenario, 1 against 3 runtimes behind the edge Worker.
 *
 * Three runtimes (test/bench/peers/edgebatch.ts: hono.config.ts as shipped, `slo` policy, models mlp and
 * ocr-cls) and the real Worker in workerd (wrangler's programmatic API, as in the e2e test), each in front of
 * one runtime or of all three; the load generator in its own process (test/bench/loadgen.ts) sends the same
 * seeded open-loop schedule of two functions on two models (mlp-scores and needs-rotation) to:
 * - `direct`: the first runtime itself (no edge): the baseline for what the edge adds;
 * - `edge, 1 runtime`: the Worker in front of that same runtime;
 * - `edge, 3 runtimes`: the Worker in front of all three, rendezvous routing by model.
 * On 2 shared cores the runtimes share the CPU, so throughput says nothing: the figures are attainment,
 * mean batch size per model, p50/p99 latency and the edge's added latency (edge, 1 runtime against direct,
 * same runtime, same schedule). Written to bench-results/edge.md. `--quick` runs shorter.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startEdge, type RunningEdge } from '../helpers/edge.ts';
import type { LoadResult, OpenJob, Stream } from './loadgen.ts';
import { makeBodies } from './harness/bodies.ts';
import { quantile } from './harness/figures.ts';
import { forkRuntimePeer, forkTs, type Child } from './harness/processes.ts';

const quick = process.argv.includes('--quick');
const root = process.cwd();
const outDir = path.join(root, 'bench-results');
const logDir = path.join(outDir, 'tmp');
mkdirSync(logDir, { recursive: true });
const durationMs = quick ? 2000 : 8000;
const fns = [
  { name: 'mlp-scores', model: 'mlp', sloMs: 200, ratePerSec: 120 },
  { name: 'needs-rotation', model: 'ocr-cls', sloMs: 250, ratePerSec: 20 },
];

/** Per model: share of calls answered 200 within the SLO, mean batch over distinct batches, p50/p99 of 200s. */
function figures(r: LoadResult, model: string) {
  const idx = [...r.status.keys()].filter((i) => !r.warmup[i] && fns[r.stream[i]].model === model);
  const fn = fns.find((f) => f.model === model)!;
  const ok = idx.filter((i) => r.status[i] === 200);
  const within = ok.filter((i) => r.latencyMs[i] <= fn.sloMs).length;
  const batches = new Map<number, number>();
  for (const i of ok) if (r.batchId[i] > 0) batches.set(r.batchId[i], r.batchSize[i]);
  const sizes = [...batches.values()];
  const lat = ok.map((i) => r.latencyMs[i]);
  return {
    calls: idx.length,
    attainment: within / Math.max(1, idx.length),
    meanBatch: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
  };
}

const runtimes: Child[] = [];
const edges: RunningEdge[] = [];
const loadgen = forkTs('edge-loadgen', path.join(root, 'test/bench/loadgen.ts'), [], { cwd: root, logDir });
try {
  for (let i = 0; i < 3; i++)
    runtimes.push(forkRuntimePeer(`edge-runtime-${i}`, { policy: 'slo', models: ['mlp', 'ocr-cls'] }, { cwd: root, logDir }));
  const [origins] = await Promise.all([
    Promise.all(runtimes.map(async (r) => (await r.next<{ url: string }>('ready', 180000)).url)),
    loadgen.next('ready', 120000),
  ]);
  edges.push(await startEdge({ ORIGINS: origins[0] }), await startEdge({ ORIGINS: origins.join(',') }));
  const bodies = await makeBodies(root, fns);
  const streams: Stream[] = fns.map((f) => ({ fn: f.name, weight: f.ratePerSec, bodies: bodies.get(f.name)! }));
  const total = fns.reduce((a, f) => a + f.ratePerSec, 0);
  const variants = [
    { label: 'direct (1 runtime, no edge)', url: origins[0] },
    { label: 'edge, 1 runtime', url: edges[0].url },
    { label: 'edge, 3 runtimes', url: edges[1].url },
  ];
  const job = (url: string, seed: number, ms: number): OpenJob => ({
    kind: 'open',
    url,
    seed,
    ratePerSec: total,
    leadInMs: 500,
    durationMs: ms,
    drainMs: 3000,
    maxConnections: 256,
    streams,
  });
  // One unmeasured pass each first: the edge's catalog and load reports, the runtimes' JIT and fits.
  for (const v of variants) await loadgen.ask({ type: 'job', job: job(v.url, 3, 1000) }, 'result', 60000);
  const results: { label: string; r: LoadResult }[] = [];
  for (const v of variants) {
    const { result } = await loadgen.ask<{ result: LoadResult }>(
      { type: 'job', job: job(v.url, 17, durationMs) },
      'result',
      durationMs + 60000,
    );
    results.push({ label: v.label, r: result });
    console.log(`[bench:edge] ${v.label}: ${result.status.length} calls`);
  }
  const lines = [
    `# The edge: 1 against 3 runtimes (${quick ? 'quick' : 'full'} run; ${fns.map((f) => `${f.name} ${f.ratePerSec}/s`).join(' + ')}, open-loop, ${durationMs / 1000} s each, the same schedule for each; slo policy)`,
    '',
    'On 2 cores the three runtimes share the CPU, so throughput is not the point: attainment (200 within the SLO over all calls), the mean batch each model reaches, and latency.',
    '',
    '| variant | model | calls | within SLO | mean batch | p50 ms | p99 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { label, r } of results) {
    for (const f of fns) {
      const x = figures(r, f.model);
      lines.push(
        `| ${label} | ${f.model} | ${x.calls} | ${(100 * x.attainment).toFixed(1)}% | ${x.meanBatch.toFixed(2)} | ${x.p50.toFixed(1)} | ${x.p99.toFixed(1)} |`,
      );
    }
  }
  const direct = results[0].r;
  const oneEdge = results[1].r;
  lines.push(
    '',
    "The edge's added latency (edge in front of one runtime against that runtime direct, same schedule, calls answered 200):",
    '',
    '| model | p50 added ms | p99 added ms |',
    '| --- | ---: | ---: |',
  );
  for (const f of fns) {
    const a = figures(direct, f.model);
    const b = figures(oneEdge, f.model);
    lines.push(`| ${f.model} | ${(b.p50 - a.p50).toFixed(1)} | ${(b.p99 - a.p99).toFixed(1)} |`);
  }
  writeFileSync(path.join(outDir, 'edge.md'), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
  console.log('written: bench-results/edge.md');
} finally {
  for (const e of edges) await e.stop();
  await loadgen.stop();
  for (const r of runtimes) await r.stop(6000);
}
