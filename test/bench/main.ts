/**
 * The benchmark: `npm run bench` (full, under 15 minutes on a 2-core machine) and `npm run bench:quick`
 * (under 2 minutes; CI runs it to prove the harness works, with no thresholds).
 *
 * 1. The ceiling: a bare session.run loop per model, alone on the machine.
 * 2. For each peer in turn (plan.ts): start it, warm it up, run every scenario against it with the same
 *    seeded open-loop schedules, read its counters, stop it. The greedy runtime goes first and measures
 *    the capacity C of each model that every rate is a fraction of.
 * 3. Write bench-results/results.json (every figure), results.md (tables, ratios) and SVG charts.
 *
 * Exits non-zero only when the harness itself breaks (a server does not start, the load generator or the
 * ceiling process dies); never because of a figure.
 */
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type ItemTensor } from 'edgebatch';
import { ensureModels } from '../../scripts/gen-models.ts';
import type { CeilingResult } from './ceiling.ts';
import type { FnInfo } from './harness/figures.ts';
import { waitForQuiet } from './harness/machine.ts';
import { forkTs, HarnessError, type Child } from './harness/processes.ts';
import { PeerSession, type Env, type FixedDelaySetting, type RunRecord, type RunSpec } from './harness/session.ts';
import { loadHandlers } from './peers/peer-kit.ts';
import { FULL, FUNCTIONS, MODELS, PEERS, QUICK, type Plan } from './plan.ts';
import { writeReport, type BenchData } from './report/report.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = path.join(root, 'bench-results');
const logDir = path.join(outDir, 'tmp', 'logs');
const rawDir = path.join(outDir, 'tmp', 'raw');

const startedAt = performance.now();
const log = (msg: string) => console.log(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

/** A stable 32-bit seed from a name, so every peer meets the same schedule for the same run. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Request bodies: seeded feature vectors for the MLP, the committed text-line images for ocr-cls. */
async function makeBodies(fns: Map<string, FnInfo>): Promise<Map<string, string[]>> {
  const { readFile, readdir } = await import('node:fs/promises');
  const images: string[] = [];
  const fixtures = path.join(root, 'test/fixtures');
  for (const f of (await readdir(fixtures)).filter((f) => f.endsWith('.png')).sort()) images.push((await readFile(path.join(fixtures, f))).toString('base64'));
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const features = Array.from({ length: 16 }, () => JSON.stringify({ features: Array.from({ length: 128 }, () => Number(rand().toFixed(4))) }));
  const out = new Map<string, string[]>();
  for (const [name, f] of fns) out.set(name, f.model === 'mlp' ? features : images.map((image) => JSON.stringify({ image })));
  return out;
}

function runSpecs(plan: Plan, capacity: Map<string, number>): RunSpec[] {
  const base = { leadInMs: plan.leadInMs, durationMs: plan.durationMs, drainMs: plan.drainMs };
  const specs: RunSpec[] = [];
  for (const { model, fn } of MODELS) {
    const c = capacity.get(model)!;
    for (const f of plan.sweep) {
      const label = `${f.toFixed(2)}C`;
      specs.push({ ...base, scenario: `sweep:${model}`, label, fraction: f, ratePerSec: f * c, streams: [{ fn, weight: 1 }], seed: seedOf(`sweep:${model}/${label}`) });
    }
  }
  for (const model of plan.burst.models) {
    const fn = MODELS.find((m) => m.model === model)!.fn;
    const b = plan.burst;
    specs.push({
      ...base,
      durationMs: b.durationMs,
      scenario: `burst:${model}`,
      label: `${b.baseFraction.toFixed(2)}C, x${b.factor} for ${b.lengthMs} ms`,
      fraction: b.baseFraction,
      ratePerSec: b.baseFraction * capacity.get(model)!,
      streams: [{ fn, weight: 1 }],
      seed: 3,
      burst: { atMs: b.atMs, lengthMs: b.lengthMs, factor: b.factor },
    });
  }
  for (const f of plan.twoSlo) {
    const label = `${f.toFixed(2)}C`;
    specs.push({ ...base, scenario: 'two-slo', label, fraction: f, ratePerSec: f * capacity.get('mlp')!, streams: [{ fn: 'mlp-classify', weight: 1 }, { fn: 'mlp-scores', weight: 1 }], seed: seedOf(`two-slo/${label}`) });
  }
  for (const f of plan.twoModels) {
    const label = `${f.toFixed(2)} of C shared`;
    const rMlp = (f / 2) * capacity.get('mlp')!;
    const rOcr = (f / 2) * capacity.get('ocr-cls')!;
    specs.push({ ...base, scenario: 'two-models', label, fraction: f, ratePerSec: rMlp + rOcr, streams: [{ fn: 'mlp-classify', weight: rMlp }, { fn: 'text-direction', weight: rOcr }], seed: seedOf(`two-models/${label}`) });
  }
  return specs;
}

/** Triton's advice, applied: preferred batch = what greedy reaches at the target rate; delay = 10% of the tightest SLO. */
function tuneFixedDelay(plan: Plan, runs: RunRecord[], fns: Map<string, FnInfo>): Record<string, FixedDelaySetting> {
  const out: Record<string, FixedDelaySetting> = {};
  for (const { model } of MODELS) {
    const sweep = runs.filter((r) => r.peer === 'greedy' && r.scenario === `sweep:${model}`);
    const at = sweep.reduce<RunRecord | undefined>((best, r) => (!best || Math.abs(r.fraction - plan.targetFraction) < Math.abs(best.fraction - plan.targetFraction) ? r : best), undefined);
    const meanBatch = at?.figures.perModel[model]?.meanBatch ?? 1;
    const tightest = Math.min(...[...fns.values()].filter((f) => f.model === model).map((f) => f.sloMs));
    out[model] = { preferredBatchSize: Math.max(1, Math.round(meanBatch)), maxQueueDelayMs: Math.max(1, Math.round(0.1 * tightest)) };
  }
  return out;
}

const children = new Set<Child>();

/** `--render`: rewrite results.md and the charts from an existing results.json, running nothing. */
async function renderOnly(): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(path.join(outDir, 'results.json'), 'utf8');
  const data = JSON.parse(text, (_k, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as BenchData & { ratios?: unknown };
  delete data.ratios;
  const files = await writeReport(outDir, data);
  log(`rendered ${files.map((f) => path.relative(root, f)).join(', ')}`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) return renderOnly();
  const plan = process.argv.includes('--quick') ? QUICK : FULL;
  log(`plan "${plan.name}" on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}`);
  await ensureModels({ log: false });
  for (const dir of [logDir, rawDir]) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  }

  const config = await loadConfig(path.join(root, 'hono.config.ts'), {}, { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' });
  const handlers = await loadHandlers(config, FUNCTIONS);
  const fns = new Map<string, FnInfo>([...handlers.values()].map((h) => [h.name, { name: h.name, model: h.model, sloMs: h.sloMs }]));
  const itemBytes = new Map<string, number>();
  for (const h of handlers.values()) {
    if (itemBytes.has(h.model)) continue;
    const checked = await h.def.input['~standard'].validate(h.def.example);
    if (!checked.issues) itemBytes.set(h.model, ((await h.def.pre(checked.value as never)) as ItemTensor).data.byteLength);
  }
  const bodies = await makeBodies(fns);

  log('ceiling: bare session.run loop per model');
  const ceilingChild = forkTs('ceiling', path.join(root, 'test/bench/ceiling.ts'), [JSON.stringify({ items: MODELS.map(({ model, fn }) => ({ model, fn })), ...plan.ceiling })], { cwd: root, logDir });
  children.add(ceilingChild);
  const { results: ceilings } = await ceilingChild.next<{ results: CeilingResult[] }>('result', 300000);
  await ceilingChild.stop(3000);
  for (const c of ceilings) log(`  ${c.model}: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch} (threads per lane ${config.threadsPerLane})`);

  const loadgen = forkTs('loadgen', path.join(root, 'test/bench/loadgen.ts'), [], { cwd: root, logDir });
  children.add(loadgen);
  await loadgen.next('ready', 60000);

  const env: Env = {
    root,
    logDir,
    loadgen,
    fns,
    bodies,
    itemBytes,
    ceilings: new Map(ceilings.map((c) => [c.model, c.itemsPerSec])),
    energy: config.energy,
    functions: FUNCTIONS,
    models: MODELS.map((m) => m.model),
    maxConnections: 1024,
    rawDir,
  };
  const capacity = new Map<string, number>();
  let fixedDelay: Record<string, FixedDelaySetting> | undefined;
  const runs: RunRecord[] = [];
  let quietBudgetMs = plan.quietWait.totalMs;
  const restarts: Record<string, number> = {};

  type Calibration = { peer: string; perSec: number; meanBatch: number; concurrency: number; fn: string };
  const calibration: Record<string, Calibration[]> = {};
  const warmUp = (session: PeerSession) =>
    session.warmUp(
      [
        { fn: 'mlp-classify', weight: plan.warmUp.mlpPerSec },
        { fn: 'text-direction', weight: plan.warmUp.ocrPerSec },
      ],
      plan.warmUp.mlpPerSec + plan.warmUp.ocrPerSec,
      plan.warmUp.durationMs,
      plan.idleTimeoutMs,
    );
  /** Closed-loop probe of each model on this peer; the capacity C is the best any calibration peer reached. */
  const calibrate = async (session: PeerSession) => {
    for (const { model, calibrationFn, closedConcurrency } of MODELS) {
      const r = await session.closedLoopThroughput(calibrationFn, closedConcurrency, plan.calibrationMs);
      if (!(r.perSec > 0)) throw new HarnessError(`calibration of ${model} gave no replies: is the ${session.def.name} server answering?`);
      (calibration[model] ??= []).push({ peer: session.def.name, ...r, concurrency: closedConcurrency, fn: calibrationFn });
      capacity.set(model, Math.max(capacity.get(model) ?? 0, r.perSec));
      log(`  ${model}: ${r.perSec.toFixed(0)} req/s on ${session.def.name} (${calibrationFn}, ${closedConcurrency} in flight, mean batch ${r.meanBatch.toFixed(1)})`);
    }
  };

  // Capacity: the runtime (greedy, first in PEERS, probed when its turn comes) and the naive server, the
  // one peer whose capacity does not depend on the runtime at all. Naive is probed here, in a server of
  // its own that is stopped before any run.
  const calibrationPeers = PEERS.filter((p) => plan.calibrationPeers.includes(p.name));
  for (const def of calibrationPeers.slice(1)) {
    log(`capacity probe on ${def.name}`);
    const session = await PeerSession.start(def, env);
    await warmUp(session);
    await calibrate(session);
    await session.stop();
  }

  for (const def of PEERS) {
    log(`peer ${def.name}: starting`);
    const session = await PeerSession.start(def, env, def.policy === 'fixed-delay' ? fixedDelay : undefined);
    const stop = () => session.stop();
    await warmUp(session);
    if (def === calibrationPeers[0]) {
      log(`capacity probe on ${def.name}`);
      await calibrate(session);
      for (const [m, c] of capacity) log(`  capacity C(${m}) = ${c.toFixed(0)} req/s`);
    }
    for (const spec of runSpecs(plan, capacity)) {
      if (quietBudgetMs > 0 && plan.quietWait.perRunMs > 0) {
        const q = await waitForQuiet(Math.min(plan.quietWait.perRunMs, quietBudgetMs));
        quietBudgetMs -= q.waitedMs;
        if (q.waitedMs > 1000) log(`  waited ${(q.waitedMs / 1000).toFixed(0)} s for other processes to calm down (now ${q.cores.toFixed(2)} cores)`);
      }
      const rec = await session.measure(spec, plan.idleTimeoutMs);
      runs.push(rec);
      const f = rec.figures;
      log(
        `  ${def.name} ${spec.scenario} ${spec.label}: ${f.offeredPerSec.toFixed(0)}/s offered, goodput ${f.goodputPerSec.toFixed(0)}/s, ` +
          `attainment ${(100 * f.sloAttainment).toFixed(1)}%, p50 ${f.p50Ms.toFixed(1)} p99 ${f.p99Ms.toFixed(1)} ms, batch ${f.meanBatch?.toFixed(1) ?? '-'}, shed ${f.shed}` +
          (rec.notes.length ? ` [${rec.notes.join('; ')}]` : ''),
      );
      await new Promise((r) => setTimeout(r, plan.pauseMs));
    }
    restarts[def.name] = session.restarts;
    await stop();
    if (def.name === 'greedy') {
      fixedDelay = tuneFixedDelay(plan, runs, fns);
      for (const [m, s] of Object.entries(fixedDelay)) log(`  fixed-delay for ${m}: preferred batch ${s.preferredBatchSize}, max queue delay ${s.maxQueueDelayMs} ms`);
    }
  }
  await loadgen.stop(3000);

  const files = await writeReport(outDir, {
    meta: {
      plan: plan.name,
      date: new Date().toISOString(),
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      threadsPerLane: config.threadsPerLane,
      lanes: config.lanes,
      energy: config.energy,
      seconds: Math.round((performance.now() - startedAt) / 1000),
      client: 'raw keep-alive HTTP/1.1 (test/bench/client.ts)',
    },
    plan,
    peers: PEERS,
    functions: [...fns.values()],
    itemBytes: Object.fromEntries(itemBytes),
    ceilings,
    capacity: Object.fromEntries(capacity),
    calibration,
    fixedDelay: fixedDelay ?? {},
    restarts,
    runs,
  });
  log(`done in ${Math.round((performance.now() - startedAt) / 1000)} s: ${files.map((f) => path.relative(root, f)).join(', ')}`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    for (const c of children) if (!c.exited) c.proc.kill('SIGKILL');
    process.exit(1);
  },
);
