/**
 * `npm run bench:v2`: the v2 (Open Inference Protocol) peer on the MLP beside the function API. One greedy
 * runtime on the MLP (test/bench/peers/edgebatch.ts, as shipped), the load generator in its own process
 * (test/bench/loadgen.ts), the same open-loop Poisson schedule of rows for every variant:
 * - `function`: POST /functions/mlp-scores, one JSON row per call;
 * - `v2 json` / `v2 binary`: POST /v2/models/mlp/infer with 1 or 8 rows per call, data as JSON numbers or
 *   as binary tensors (Triton's extension), the reply in the same form.
 * Figures per variant: main-thread CPU of the runtime per row (edgebatch_main_thread_cpu_seconds_total),
 * bytes per call, p50/p99 latency, share answered 200, mean batch. Written to bench-results/v2.md.
 * `--quick` runs shorter.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadResult, OpenJob, Stream } from './loadgen.ts';
import { mlpBodies } from './harness/bodies.ts';
import { quantile } from './harness/figures.ts';
import { forkRuntimePeer, forkTs } from './harness/processes.ts';
import { runtimeSnapshot } from './harness/server-stats.ts';

const quick = process.argv.includes('--quick');
const root = process.cwd();
const outDir = path.join(root, 'bench-results');
const logDir = path.join(outDir, 'tmp');
mkdirSync(logDir, { recursive: true });
const rowsPerSec = Number(process.env.V2_BENCH_ROWS_PER_SEC ?? 400);
const durationMs = quick ? 2000 : 6000;

/** The 16 seeded feature vectors of the other benchmarks. */
const vectors = mlpBodies().map((b) => (JSON.parse(b) as { features: number[] }).features);
const infer = '/v2/models/mlp/infer';

/** `rows` consecutive vectors as one v2 request, JSON or binary (input and output). */
function v2Body(start: number, rows: number, binary: boolean): string | Uint8Array {
  const picked = Array.from({ length: rows }, (_, i) => vectors[(start + i) % vectors.length]);
  const input = { name: 'x', shape: [rows, 128], datatype: 'FP32' };
  if (!binary) return JSON.stringify({ inputs: [{ ...input, data: picked.flat() }] });
  const data = Float32Array.from(picked.flat());
  const head = Buffer.from(
    JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } }),
  );
  return Buffer.concat([head, Buffer.from(data.buffer)]);
}

function v2Stream(rows: number, binary: boolean): Stream {
  const bodies = Array.from({ length: 16 }, (_, i) => v2Body(i, rows, binary));
  if (!binary) return { fn: `v2 json x${rows}`, weight: 1, bodies, path: infer };
  const headerLength = (bodies[0] as Uint8Array).length - rows * 128 * 4;
  return {
    fn: `v2 binary x${rows}`,
    weight: 1,
    bodies,
    path: infer,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) },
  };
}

const variants: { rows: number; stream: Stream }[] = [
  { rows: 1, stream: { fn: 'mlp-scores', weight: 1, bodies: vectors.map((features) => JSON.stringify({ features })) } },
  { rows: 1, stream: v2Stream(1, false) },
  { rows: 1, stream: v2Stream(1, true) },
  { rows: 8, stream: v2Stream(8, false) },
  { rows: 8, stream: v2Stream(8, true) },
];

const server = forkRuntimePeer('v2-runtime', { policy: 'greedy', models: ['mlp'] }, { cwd: root, logDir });
const loadgen = forkTs('v2-loadgen', path.join(root, 'test/bench/loadgen.ts'), [], { cwd: root, logDir });
try {
  // Both announce themselves once, at start: listen for both at once.
  const [{ url }] = await Promise.all([server.next<{ url: string }>('ready', 120000), loadgen.next('ready', 120000)]);
  const lines = [
    `# v2 peer on the MLP (${quick ? 'quick' : 'full'} run, ${rowsPerSec} rows/s offered, ${durationMs / 1000} s each, greedy policy)`,
    '',
    '| variant | rows/call | bytes/call (request) | answered 200 | p50 ms | p99 ms | mean batch | main-thread CPU per row, us |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  // One unmeasured pass over every variant first: the fresh server's first seconds (JIT, fit) count for none.
  for (const v of variants)
    await loadgen.ask(
      {
        type: 'job',
        job: {
          kind: 'open',
          url,
          seed: 5,
          ratePerSec: rowsPerSec / v.rows,
          leadInMs: 0,
          durationMs: 1000,
          drainMs: 2000,
          maxConnections: 64,
          streams: [v.stream],
        },
      },
      'result',
      60000,
    );
  for (const v of variants) {
    const job: OpenJob = {
      kind: 'open',
      url,
      seed: 11,
      ratePerSec: rowsPerSec / v.rows,
      leadInMs: 500,
      durationMs,
      drainMs: 2000,
      maxConnections: 64,
      streams: [v.stream],
    };
    // Lead-in included: its calls are served too, and the CPU counter cannot tell them apart.
    const before = await runtimeSnapshot(url);
    const { result } = await loadgen.ask<{ result: LoadResult }>({ type: 'job', job }, 'result', durationMs + 60000);
    await new Promise((r) => setTimeout(r, 200));
    const after = await runtimeSnapshot(url);
    const served = result.status.filter((s) => s === 200).length;
    const measured = [...result.latencyMs].filter((_, i) => !result.warmup[i] && result.status[i] === 200);
    const batches = [...result.batchSize].filter((b, i) => result.status[i] === 200 && b > 0);
    const cpuPerRowUs =
      after.mainThreadCpuMs !== null && before.mainThreadCpuMs !== null
        ? ((after.mainThreadCpuMs - before.mainThreadCpuMs) * 1000) / (served * v.rows)
        : NaN;
    const bytes = typeof v.stream.bodies[0] === 'string' ? Buffer.byteLength(v.stream.bodies[0]) : v.stream.bodies[0].length;
    const row = [
      v.stream.fn,
      v.rows,
      bytes,
      `${((100 * served) / result.status.length).toFixed(1)}%`,
      quantile(measured, 0.5).toFixed(1),
      quantile(measured, 0.99).toFixed(1),
      (batches.reduce((a, b) => a + b, 0) / batches.length).toFixed(1),
      cpuPerRowUs.toFixed(0),
    ];
    lines.push(`| ${row.join(' | ')} |`);
    console.log(lines.at(-1));
  }
  writeFileSync(path.join(outDir, 'v2.md'), `${lines.join('\n')}\n`);
  console.log(`written: bench-results/v2.md`);
} finally {
  await loadgen.stop();
  await server.stop(6000);
}
