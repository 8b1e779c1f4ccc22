/**
 * The webgpu bench: `npm run bench -- --device webgpu` (or `npm run bench:webgpu`). A short run of the MLP on
 * `device: 'webgpu'`, kept apart from the CPU bench so that its figures stay comparable:
 *
 * 1. The ceiling on webgpu (ceiling.ts in its own process, as the CPU bench does): batch cost at every
 *    size up to maxBatch and the Theil-Sen fit through it, tau(b) = alpha*b + tau0.
 * 2. The runtime on webgpu, policy greedy, admission off, a 2 s SLO unless `--slo` says otherwise (room for a
 *    software device): an open-loop Poisson run at each of `fractions` of the ceiling, capped at
 *    `--max-rate` (1500/s by default: on a real GPU the ceiling is far above what one event loop serves, and
 *    this bench measures the device, not the host path). The measured mean of queue + inference
 *    (Server-Timing) is set beside the formula's device-stage bound at the same rate, with the runtime's own
 *    fit (GET /functions/:name) and with the ceiling's, and with the joules per inference the runtime reports
 *    and where they come from (`energySource`: the GPU's own counter through nvidia-smi, or the model).
 * 3. Energy: greedy against `slo` at a light rate (0.2 of the capped ceiling), 12 s each, so that the
 *    runtime's 10 s energy window lies inside the run.
 * 4. bench-results/webgpu.md and webgpu.json, or webgpu-<label>.md/.json with `--label` (a GPU host's run
 *    kept beside the software device's, which CI's lavapipe rewrites).
 *
 * Where no GPU exists this runs on Mesa's lavapipe (software Vulkan), which .ci/run installs: a slow device
 * with a GPU-like curve, not a GPU's figures. Exits non-zero only when the harness breaks, never on a figure.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../runtime/duration.ts';
import { meanLatencyBound } from '../../runtime/scheduler/formula.ts';
import { ensureModels } from '../../scripts/gen-models.ts';
import { openLoop } from '../helpers/open-loop.ts';
import { startRuntime } from '../helpers/serve.ts';
import type { PolicyName } from '../../runtime/index.ts';
import type { CeilingResult } from './ceiling.ts';
import { quantile } from './harness/figures.ts';
import { forkTs } from './harness/processes.ts';
import { getText } from './harness/server-stats.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = path.join(root, 'bench-results');
const MODEL = 'mlp';
const FN = 'mlp-classify';
/** Rates as fractions of the ceiling's items/s (capped, see above), and each run's length. */
const fractions = [0.3, 0.6];
const durationMs = 8000;
/** The light rate of the energy pair, as a fraction of the capped ceiling, and each run's length. */
const energyFraction = 0.2;
const energyDurationMs = 12_000;
/** An unmeasured run at the energy pair's rate before each side's measured one. */
const energyWarmUpMs = 4000;

export interface WebgpuBenchOptions {
  /** Written as webgpu-<label>.md/.json; none: webgpu.md/.json. */
  label?: string;
  /** The highest offered rate, calls/s. */
  maxRatePerSec?: number;
  /** The function's SLO in the runs, a duration string. */
  slo?: string;
}

/**
 * The webgpu bench's own flags from the command line (`--label`, `--max-rate`, `--slo`), checked: a label of
 * letters, digits, `_` and `-` (it names a file in bench-results/), a rate above 0, an SLO that is a duration.
 */
export function webgpuOptionsFrom(args: string[]): WebgpuBenchOptions {
  const { values } = parseArgs({
    args,
    strict: false,
    options: { label: { type: 'string' }, 'max-rate': { type: 'string' }, slo: { type: 'string' } },
  });
  const text = (name: string): string | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '' || v.startsWith('--')) throw new TypeError(`--${name} needs a value`);
    return v;
  };
  const label = text('label');
  if (label !== undefined && !/^[\w-]+$/.test(label))
    throw new TypeError(`--label must be letters, digits, _ and - (it names a file in bench-results/), got ${JSON.stringify(label)}`);
  const rate = text('max-rate');
  const maxRatePerSec = rate === undefined ? undefined : Number(rate);
  if (maxRatePerSec !== undefined && !(Number.isFinite(maxRatePerSec) && maxRatePerSec > 0))
    throw new RangeError(`--max-rate must be a number of calls per second above 0, got ${JSON.stringify(rate)}`);
  const slo = text('slo');
  if (slo !== undefined) parseDuration(slo, '--slo');
  return { label, maxRatePerSec, slo };
}

const startedAt = performance.now();
const log = (msg: string) => console.log(`[bench:webgpu ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

/** One open-loop run at one rate, as {@link measure} sums it up. */
interface Measured {
  ratePerSec: number;
  calls: number;
  ok: number;
  meanBatch: number | null;
  /** Measured mean of queue + inference per call (Server-Timing), ms. */
  measuredMeanMs: number;
  p99LatencyMs: number | null;
  /** What the runtime reported near the end of the run, and where the figure came from. */
  joulesPerInference: number | null;
  energySource: string | null;
}

interface RateRun extends Measured {
  fraction: number;
  /** The formula's device-stage bound U(lambda) with the runtime's fit and with the ceiling's, ms. */
  boundRuntimeFitMs: number | null;
  boundCeilingFitMs: number | null;
}

interface EnergyRun extends Measured {
  policy: PolicyName;
}

/** What `GET /functions/:name` says that this bench reads. */
interface FunctionView {
  fit: { alphaMs: number; tau0Ms: number } | null;
  prediction: { joulesPerInference: number | null; energySource: string } | null;
}

const ms = (s: number) => (Number.isFinite(s) ? 1000 * s : null);
const fmt = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
const fmtJ = (x: number | null) => (x === null ? '-' : x.toPrecision(3));

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

/** The NVIDIA GPU and driver as nvidia-smi names them, or null where there is none (or no nvidia-smi). */
function nvidiaGpu(): string | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader', '--id=0'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
    const [name, driver] = out.split(',').map((f) => f.trim());
    return name ? `${name}, driver ${driver}` : null;
  } catch {
    return null;
  }
}

/** One open-loop run against a serving runtime, summed up with what the runtime said near its end. */
async function measure(url: string, ratePerSec: number, runMs: number): Promise<Measured & { fit: FunctionView['fit'] }> {
  const body = { features: Array.from({ length: 128 }, (_, i) => Math.sin(i)) };
  // What the runtime says is read near the end of the load, not after it: once the load stops, its live rate
  // decays while a hold still stands, and the joules it reports would describe a trickle, not this rate.
  const viewed = (async () => {
    await sleep(0.9 * runMs);
    return JSON.parse(await getText(`${url}/functions/${FN}`)) as FunctionView;
  })();
  const [sent, view] = await Promise.all([openLoop(url, FN, () => body, ratePerSec, runMs, 16), viewed]);
  const ok = sent.filter((s) => s.status === 200);
  const batches = ok.map((s) => Number(s.headers.get('x-batch-size'))).filter((b) => b > 0);
  const latencies = ok.map((s) => s.latencyMs);
  return {
    ratePerSec,
    calls: sent.length,
    ok: ok.length,
    meanBatch: batches.length ? batches.reduce((a, b) => a + b, 0) / batches.length : null,
    measuredMeanMs: ok.reduce((a, s) => a + s.queueMs + s.inferenceMs, 0) / Math.max(1, ok.length),
    p99LatencyMs: latencies.length ? quantile(latencies, 0.99) : null,
    joulesPerInference: view.prediction?.joulesPerInference ?? null,
    energySource: view.prediction?.energySource ?? null,
    fit: view.fit && { alphaMs: view.fit.alphaMs, tau0Ms: view.fit.tau0Ms },
  };
}

export async function runWebgpuBench(options: WebgpuBenchOptions = {}): Promise<void> {
  const { label, maxRatePerSec = 1500, slo = '2s' } = options;
  await ensureModels({ log: false });
  const tmp = path.join(outDir, 'tmp');
  mkdirSync(path.join(tmp, 'logs'), { recursive: true });
  log(`MLP on device webgpu, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}`);
  const c = await ceiling(path.join(tmp, 'logs'));
  log(
    `ceiling: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch}; fit alpha ${c.alphaMs.toFixed(2)} ms, tau0 ${c.tau0Ms.toFixed(1)} ms`,
  );
  const top = Math.min(c.itemsPerSec, maxRatePerSec);

  // The function re-exported with the bench's SLO: 50 ms is out of reach on lavapipe.
  const dir = mkdtempSync(path.join(tmp, 'webgpu-'));
  mkdirSync(path.join(dir, 'functions'));
  writeFileSync(
    path.join(dir, 'functions', `${FN}.ts`),
    `import base from ${JSON.stringify(pathToFileURL(path.join(root, 'functions', `${FN}.ts`)).href)};\nexport default { ...base, slo: ${JSON.stringify(slo)} };\n`,
  );
  const serveWith = (policy: PolicyName) =>
    startRuntime({ functionsDir: path.join(dir, 'functions'), device: 'webgpu', scheduler: { policy, admission: false } });
  const runs: RateRun[] = [];
  const energy: EnergyRun[] = [];
  let fit: { alphaMs: number; tau0Ms: number } | null = null;
  try {
    for (const policy of ['greedy', 'slo'] as const) {
      const serving = await serveWith(policy);
      try {
        if (policy === 'greedy') {
          for (const fraction of fractions) {
            const { fit: seen, ...m } = await measure(serving.url, Math.max(1, Math.round(fraction * top)), durationMs);
            fit = seen;
            const run: RateRun = {
              fraction,
              ...m,
              boundRuntimeFitMs: fit && ms(meanLatencyBound(m.ratePerSec, { alpha: fit.alphaMs / 1000, tau0: fit.tau0Ms / 1000 })),
              boundCeilingFitMs: ms(meanLatencyBound(m.ratePerSec, { alpha: c.alphaMs / 1000, tau0: c.tau0Ms / 1000 })),
            };
            runs.push(run);
            log(
              `  ${run.ratePerSec}/s (${fraction} x capped ceiling): ${run.ok}/${run.calls} ok, mean batch ${fmt(run.meanBatch)}, measured mean ${run.measuredMeanMs.toFixed(1)} ms, bound ${fmt(run.boundRuntimeFitMs)} ms (runtime fit) / ${fmt(run.boundCeilingFitMs)} ms (ceiling fit), ${fmtJ(run.joulesPerInference)} J/inf (${run.energySource})`,
            );
          }
        }
        const energyRate = Math.max(1, Math.round(energyFraction * top));
        // Each policy warms up at the energy pair's rate first, so that neither learns its fit or its hold
        // inside the measured window (greedy's server has also run the rates above; slo's is fresh).
        await measure(serving.url, energyRate, energyWarmUpMs);
        const { fit: _fit, ...m } = await measure(serving.url, energyRate, energyDurationMs);
        energy.push({ policy, ...m });
        log(
          `  energy, ${policy} at ${m.ratePerSec}/s: mean batch ${fmt(m.meanBatch)}, measured mean ${m.measuredMeanMs.toFixed(1)} ms, p99 ${fmt(m.p99LatencyMs)} ms, ${fmtJ(m.joulesPerInference)} J/inf (${m.energySource})`,
        );
      } finally {
        await serving.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const meta = {
    date: new Date().toISOString(),
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    gpu: nvidiaGpu(),
    seconds: Math.round((performance.now() - startedAt) / 1000),
    slo,
    maxRatePerSec,
    command: `npm run bench -- --device webgpu${label !== undefined ? ` --label ${label}` : ''}${options.maxRatePerSec !== undefined ? ` --max-rate ${maxRatePerSec}` : ''}${options.slo !== undefined ? ` --slo ${slo}` : ''}`,
  };
  const base = label ? `webgpu-${label}` : 'webgpu';
  writeFileSync(
    path.join(outDir, `${base}.json`),
    JSON.stringify({ meta, model: MODEL, fn: FN, durationMs, ceiling: c, runtimeFit: fit, runs, energy }, null, 2) + '\n',
  );
  writeFileSync(path.join(outDir, `${base}.md`), report(meta, c, fit, runs, energy));
  log(`done in ${meta.seconds} s: bench-results/${base}.md, bench-results/${base}.json`);
}

function report(
  meta: {
    date: string;
    cores: number;
    cpu: string;
    node: string;
    gpu: string | null;
    seconds: number;
    slo: string;
    maxRatePerSec: number;
    command: string;
  },
  c: CeilingResult,
  fit: { alphaMs: number; tau0Ms: number } | null,
  runs: RateRun[],
  energy: EnergyRun[],
): string {
  return [
    "# webgpu bench: the MLP on `device: 'webgpu'`",
    '',
    `\`${meta.command}\`, ${meta.date}, ${meta.cores} cores (${meta.cpu}), node ${meta.node}, ${meta.seconds} s.`,
    `NVIDIA GPU (nvidia-smi): ${meta.gpu ?? "none found. Without a GPU (CI), WebGPU runs on Mesa's lavapipe, software Vulkan on the CPU: a slow device with a GPU-like cost curve, not a GPU's figures"}.`,
    `Function SLO in the runs: ${meta.slo}; offered rates capped at ${meta.maxRatePerSec}/s. Kept apart from results.md so that the CPU figures stay comparable.`,
    '',
    '## Ceiling: bare `session.run` on webgpu, per batch size',
    '',
    '| batch | ms per batch | items/s |',
    '|---:|---:|---:|',
    ...c.perSize.map((p) => `| ${p.batch} | ${p.ms.toFixed(p.ms < 10 ? 3 : 1)} | ${p.itemsPerSec.toFixed(0)} |`),
    '',
    `Best: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch}.`,
    '',
    '## Fit, tau(b) = alpha*b + tau0',
    '',
    '| source | alpha ms | tau0 ms | tau0 / alpha |',
    '|---|---:|---:|---:|',
    `| ceiling (Theil-Sen through the table above) | ${c.alphaMs.toFixed(4)} | ${c.tau0Ms.toFixed(3)} | ${(c.tau0Ms / c.alphaMs).toFixed(0)} |`,
    fit
      ? `| runtime (GET /functions/${FN} near the end of the last greedy run) | ${fit.alphaMs.toFixed(4)} | ${fit.tau0Ms.toFixed(3)} | ${(fit.tau0Ms / fit.alphaMs).toFixed(0)} |`
      : '| runtime | - | - | - |',
    '',
    `## The formula's bound against the measured mean (policy greedy, ${durationMs / 1000} s open-loop Poisson per rate)`,
    '',
    'Measured: mean of queue + inference per call from Server-Timing; p99 is client-side, from the scheduled send.',
    'Bound: U(lambda), the device stage, no hold. J/inf: what `GET /functions/:name` reports near the end of the run, and its source.',
    '',
    '| rate /s | x capped ceiling | ok / sent | mean batch | measured mean ms | p99 ms | bound ms (runtime fit) | bound ms (ceiling fit) | J/inf | energy source |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...runs.map(
      (r) =>
        `| ${r.ratePerSec} | ${r.fraction} | ${r.ok} / ${r.calls} | ${fmt(r.meanBatch)} | ${r.measuredMeanMs.toFixed(2)} | ${fmt(r.p99LatencyMs)} | ${fmt(r.boundRuntimeFitMs, 2)} | ${fmt(r.boundCeilingFitMs, 2)} | ${fmtJ(r.joulesPerInference)} | ${r.energySource ?? '-'} |`,
    ),
    '',
    `## Energy at a light rate: greedy against slo (${energyDurationMs / 1000} s each, ${energyFraction} of the capped ceiling)`,
    '',
    '| policy | rate /s | ok / sent | mean batch | measured mean ms | p99 ms | J/inf | energy source |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...energy.map(
      (e) =>
        `| ${e.policy} | ${e.ratePerSec} | ${e.ok} / ${e.calls} | ${fmt(e.meanBatch)} | ${e.measuredMeanMs.toFixed(2)} | ${fmt(e.p99LatencyMs)} | ${fmtJ(e.joulesPerInference)} | ${e.energySource ?? '-'} |`,
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
