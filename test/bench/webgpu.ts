/**
 * The webgpu bench: `npm run bench -- --device webgpu` (or `npm run bench:webgpu`). A short run of the MLP on
 * `device: 'webgpu'`, kept apart from the CPU bench so that its figures stay comparable:
 *
 * 1. The ceiling on webgpu (ceiling.ts in its own process, as the CPU bench does): batch cost at every
 *    size up to maxBatch and the Theil-Sen fit through it, tau(b) = alpha*b + tau0.
 * 2. The runtime on webgpu, policy greedy, admission off, a 2 s SLO (room for a software device): an
 *    open-loop Poisson run at each of `fractions` of the ceiling. The measured mean of queue + inference
 *    (Server-Timing) is set beside the formula's device-stage bound at the same rate, with the runtime's
 *    own fit (GET /functions/:name) and with the ceiling's.
 * 3. bench-results/webgpu.md and webgpu.json.
 *
 * Where no GPU exists this runs on Mesa's lavapipe (software Vulkan), which .ci/run installs: a slow device
 * with a GPU-like curve, not a GPU's figures. Exits non-zero only when the harness breaks, never on a figure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { meanLatencyBound } from '../../runtime/scheduler/formula.ts';
import { ensureModels } from '../../scripts/gen-models.ts';
import { openLoop } from '../helpers/open-loop.ts';
import { startRuntime } from '../helpers/serve.ts';
import type { CeilingResult } from './ceiling.ts';
import { forkTs } from './harness/processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = path.join(root, 'bench-results');
const MODEL = 'mlp';
const FN = 'mlp-classify';
/** Rates as fractions of the ceiling's items/s, and each run's length. */
const fractions = [0.3, 0.6];
const durationMs = 8000;

const startedAt = performance.now();
const log = (msg: string) => console.log(`[bench:webgpu ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

interface RateRun {
  fraction: number;
  ratePerSec: number;
  calls: number;
  ok: number;
  meanBatch: number | null;
  /** Measured mean of queue + inference per call (Server-Timing), ms. */
  measuredMeanMs: number;
  /** The formula's device-stage bound U(lambda) with the runtime's fit and with the ceiling's, ms. */
  boundRuntimeFitMs: number | null;
  boundCeilingFitMs: number | null;
}

const ms = (s: number) => (Number.isFinite(s) ? 1000 * s : null);
const fmt = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));

async function ceiling(logDir: string): Promise<CeilingResult> {
  const child = forkTs(
    'ceiling-webgpu',
    path.join(root, 'test/bench/ceiling.ts'),
    [JSON.stringify({ items: [{ model: MODEL, fn: FN }], msPerSize: 600, msAtBest: 2000, device: 'webgpu' })],
    { cwd: root, logDir },
  );
  const { results } = await child.next<{ results: CeilingResult[] }>('result', 300000);
  await child.stop(3000);
  return results[0];
}

export async function runWebgpuBench(): Promise<void> {
  await ensureModels({ log: false });
  const tmp = path.join(outDir, 'tmp');
  mkdirSync(path.join(tmp, 'logs'), { recursive: true });
  log(`MLP on device webgpu, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}`);
  const c = await ceiling(path.join(tmp, 'logs'));
  log(
    `ceiling: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch}; fit alpha ${c.alphaMs.toFixed(2)} ms, tau0 ${c.tau0Ms.toFixed(1)} ms`,
  );

  // The function re-exported with a 2 s SLO, as the webgpu tests do: 50 ms is out of reach on lavapipe.
  const dir = mkdtempSync(path.join(tmp, 'webgpu-'));
  mkdirSync(path.join(dir, 'functions'));
  writeFileSync(
    path.join(dir, 'functions', `${FN}.ts`),
    `import base from ${JSON.stringify(pathToFileURL(path.join(root, 'functions', `${FN}.ts`)).href)};\nexport default { ...base, slo: '2s' };\n`,
  );
  const serving = await startRuntime({
    functionsDir: path.join(dir, 'functions'),
    device: 'webgpu',
    scheduler: { policy: 'greedy', admission: false },
  });
  const runs: RateRun[] = [];
  let fit: { alphaMs: number; tau0Ms: number } | null = null;
  try {
    const body = { features: Array.from({ length: 128 }, (_, i) => Math.sin(i)) };
    for (const fraction of fractions) {
      const ratePerSec = Math.max(1, Math.round(fraction * c.itemsPerSec));
      const sent = await openLoop(serving.url, FN, () => body, ratePerSec, durationMs, 16);
      const ok = sent.filter((s) => s.status === 200);
      const batches = ok.map((s) => Number(s.headers.get('x-batch-size'))).filter((b) => b > 0);
      const info = (await (await fetch(`${serving.url}/functions/${FN}`)).json()) as { fit: { alphaMs: number; tau0Ms: number } | null };
      fit = info.fit && { alphaMs: info.fit.alphaMs, tau0Ms: info.fit.tau0Ms };
      const run: RateRun = {
        fraction,
        ratePerSec,
        calls: sent.length,
        ok: ok.length,
        meanBatch: batches.length ? batches.reduce((a, b) => a + b, 0) / batches.length : null,
        measuredMeanMs: ok.reduce((a, s) => a + s.queueMs + s.inferenceMs, 0) / Math.max(1, ok.length),
        boundRuntimeFitMs: fit && ms(meanLatencyBound(ratePerSec, { alpha: fit.alphaMs / 1000, tau0: fit.tau0Ms / 1000 })),
        boundCeilingFitMs: ms(meanLatencyBound(ratePerSec, { alpha: c.alphaMs / 1000, tau0: c.tau0Ms / 1000 })),
      };
      runs.push(run);
      log(
        `  ${ratePerSec}/s (${fraction} x ceiling): ${run.ok}/${run.calls} ok, mean batch ${fmt(run.meanBatch)}, measured mean ${run.measuredMeanMs.toFixed(1)} ms, bound ${fmt(run.boundRuntimeFitMs)} ms (runtime fit) / ${fmt(run.boundCeilingFitMs)} ms (ceiling fit)`,
      );
    }
  } finally {
    await serving.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const meta = {
    date: new Date().toISOString(),
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    seconds: Math.round((performance.now() - startedAt) / 1000),
  };
  writeFileSync(
    path.join(outDir, 'webgpu.json'),
    JSON.stringify({ meta, model: MODEL, fn: FN, durationMs, ceiling: c, runtimeFit: fit, runs }, null, 2) + '\n',
  );
  writeFileSync(path.join(outDir, 'webgpu.md'), report(meta, c, fit, runs));
  log(`done in ${meta.seconds} s: bench-results/webgpu.md, bench-results/webgpu.json`);
}

function report(
  meta: { date: string; cores: number; cpu: string; node: string; seconds: number },
  c: CeilingResult,
  fit: { alphaMs: number; tau0Ms: number } | null,
  runs: RateRun[],
): string {
  return [
    "# webgpu bench: the MLP on `device: 'webgpu'`",
    '',
    `\`npm run bench -- --device webgpu\`, ${meta.date}, ${meta.cores} cores (${meta.cpu}), node ${meta.node}, ${meta.seconds} s.`,
    "Kept apart from results.md so that the CPU figures stay comparable. Without a GPU, WebGPU runs on Mesa's",
    "lavapipe (software Vulkan on the CPU): a slow device with a GPU-like cost curve, not a GPU's figures.",
    '',
    '## Ceiling: bare `session.run` on webgpu, per batch size',
    '',
    '| batch | ms per batch | items/s |',
    '|---:|---:|---:|',
    ...c.perSize.map((p) => `| ${p.batch} | ${p.ms.toFixed(1)} | ${p.itemsPerSec.toFixed(0)} |`),
    '',
    `Best: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch}.`,
    '',
    '## Fit, tau(b) = alpha*b + tau0',
    '',
    '| source | alpha ms | tau0 ms | tau0 / alpha |',
    '|---|---:|---:|---:|',
    `| ceiling (Theil-Sen through the table above) | ${c.alphaMs.toFixed(3)} | ${c.tau0Ms.toFixed(1)} | ${(c.tau0Ms / c.alphaMs).toFixed(0)} |`,
    fit
      ? `| runtime (GET /functions/${FN} after the last run) | ${fit.alphaMs.toFixed(3)} | ${fit.tau0Ms.toFixed(1)} | ${(fit.tau0Ms / fit.alphaMs).toFixed(0)} |`
      : '| runtime | - | - | - |',
    '',
    `## The formula's bound against the measured mean (policy greedy, ${durationMs / 1000} s open-loop Poisson per rate)`,
    '',
    'Measured: mean of queue + inference per call from Server-Timing. Bound: U(lambda), the device stage, no hold.',
    '',
    '| rate /s | x ceiling | ok / sent | mean batch | measured mean ms | bound ms (runtime fit) | bound ms (ceiling fit) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.ratePerSec} | ${r.fraction} | ${r.ok} / ${r.calls} | ${fmt(r.meanBatch)} | ${r.measuredMeanMs.toFixed(1)} | ${fmt(r.boundRuntimeFitMs)} | ${fmt(r.boundCeilingFitMs)} |`,
    ),
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWebgpuBench().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`bench:webgpu failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
