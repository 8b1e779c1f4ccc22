/**
 * The benchmark: `npm run bench` (full, under 25 minutes on a 2-core machine) and `npm run bench:quick`
 * (under 3 minutes; CI runs it to prove the harness works, with no thresholds).
 *
 * 1. The ceiling: a bare session.run loop per model, alone on the machine.
 * 2. For each peer in turn (plan.ts): start it, warm it up, run every scenario against it with the same
 *    seeded open-loop schedules, read its counters, stop it. The greedy runtime goes first and measures
 *    the capacity C of each model that every rate is a fraction of (the open-loop knee,
 *    harness/capacity.ts); hono-echo goes last, through its own knee search and the host-path runs.
 * 3. The host-path pair (harness/host-pair.ts): the default runtime and hono-echo started afresh and loaded
 *    at the same time, each by its own generator, so their CPU per call compares within one stretch of time.
 * 4. Write bench-results/results.json (every figure), results.md (tables, ratios) and SVG charts, and
 *    print the overload and host-path summary.
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
import { makeBodies } from './harness/bodies.ts';
import { findKnee, type Knee } from './harness/capacity.ts';
import type { FnInfo } from './harness/figures.ts';
import { measureHostPair, type HostPairResult } from './harness/host-pair.ts';
import { waitForQuiet } from './harness/machine.ts';
import { forkTs, HarnessError, type Child } from './harness/processes.ts';
import { PeerSession, type Env, type FixedDelaySetting, type RunRecord, type RunSpec } from './harness/session.ts';
import { hostSpecs, runSpecs, seedOf } from './harness/specs.ts';
import { loadHandlers } from './peers/peer-kit.ts';
import { CAPACITY_PEER, FULL, FUNCTIONS, MODELS, PEERS, QUICK, type Plan } from './plan.ts';
import { writeReport, type BenchData } from './report/report.ts';
import { consoleSummary, hostPairLine } from './report/sections.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = path.join(root, 'bench-results');
const logDir = path.join(outDir, 'tmp', 'logs');
const rawDir = path.join(outDir, 'tmp', 'raw');

const startedAt = performance.now();
const log = (msg: string) => console.log(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${msg}`);

/** Triton's advice, applied: preferred batch = what greedy reaches at the target rate; delay = 10% of the tightest SLO. */
function tuneFixedDelay(plan: Plan, runs: RunRecord[], fns: Map<string, FnInfo>): Record<string, FixedDelaySetting> {
  const out: Record<string, FixedDelaySetting> = {};
  for (const { model } of MODELS) {
    const sweep = runs.filter((r) => r.peer === 'greedy' && r.scenario === `sweep:${model}`);
    const at = sweep.reduce<RunRecord | undefined>(
      (best, r) => (!best || Math.abs(r.fraction - plan.targetFraction) < Math.abs(best.fraction - plan.targetFraction) ? r : best),
      undefined,
    );
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
  const data = JSON.parse(text, (_k, v) => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)) as BenchData & {
    ratios?: unknown;
  };
  delete data.ratios;
  const files = await writeReport(outDir, data);
  log(`rendered ${files.map((f) => path.relative(root, f)).join(', ')}`);
}

/** The runtime peer the host-path pair measures: the default policy, as `npm start` serves. */
const PAIR_RUNTIME = 'slo';

/** Starts the default runtime and hono-echo afresh, with a second load generator, and measures them together. */
async function measurePair(plan: Plan, env: Env, capacityMlp: number): Promise<HostPairResult> {
  const second = forkTs('loadgen-pair', path.join(root, 'test/bench/loadgen.ts'), [], { cwd: root, logDir });
  children.add(second);
  const defs = [PAIR_RUNTIME, 'hono-echo'].map((name) => PEERS.find((p) => p.name === name)!);
  // The generator's 'ready' is awaited beside the servers' starts: a message that comes before anyone
  // waits for it is not kept.
  const [ready, ...started] = await Promise.allSettled([second.next('ready', 60000), ...defs.map((d) => PeerSession.start(d, env))]);
  const sessions = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value as PeerSession] : []));
  try {
    const failed = [ready, ...started].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const s of sessions)
      await s.warmUp([{ fn: 'mlp-classify', weight: 1 }], plan.warmUp.mlpPerSec, plan.warmUp.durationMs, plan.idleTimeoutMs);
    const { fraction, ...shape } = plan.hostPair;
    return await measureHostPair(sessions[0], sessions[1], [env.loadgen, second], {
      fn: 'mlp-classify',
      ratePerSec: fraction * capacityMlp,
      seed: seedOf('host-pair'),
      ...shape,
    });
  } finally {
    await Promise.all(sessions.map((s) => s.stop()));
    await second.stop(3000);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) return renderOnly();
  // `--device webgpu`: the short webgpu run with its own ceiling, fit and file (webgpu.ts); the CPU bench is untouched.
  const device = process.argv[process.argv.indexOf('--device') + 1];
  if (process.argv.includes('--device') && device !== 'cpu') {
    if (device !== 'webgpu') throw new HarnessError(`--device ${device}: the bench knows cpu (the default) and webgpu`);
    const { runWebgpuBench, webgpuOptionsFrom } = await import('./webgpu.ts');
    return runWebgpuBench(webgpuOptionsFrom(process.argv.slice(2)));
  }
  const plan = process.argv.includes('--quick') ? QUICK : FULL;
  log(`plan "${plan.name}" on ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}), node ${process.version}`);
  await ensureModels({ log: false });
  for (const dir of [logDir, rawDir]) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  }

  const config = await loadConfig(
    path.join(root, 'hono.config.ts'),
    {},
    { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' },
  );
  const handlers = await loadHandlers(config, FUNCTIONS);
  const fns = new Map<string, FnInfo>([...handlers.values()].map((h) => [h.name, { name: h.name, model: h.model, sloMs: h.sloMs }]));
  const itemBytes = new Map<string, number>();
  for (const h of handlers.values()) {
    if (itemBytes.has(h.model)) continue;
    const checked = await h.def.input['~standard'].validate(h.def.example);
    if (!checked.issues)
      itemBytes.set(h.model, (((await h.def.pre(checked.value as never)) as ItemTensor).data as Float32Array).byteLength);
  }
  const bodies = await makeBodies(root, fns.values());

  log('ceiling: bare session.run loop per model');
  const ceilingChild = forkTs(
    'ceiling',
    path.join(root, 'test/bench/ceiling.ts'),
    [JSON.stringify({ items: MODELS.map(({ model, fn }) => ({ model, fn })), ...plan.ceiling })],
    { cwd: root, logDir },
  );
  children.add(ceilingChild);
  const { results: ceilings } = await ceilingChild.next<{ results: CeilingResult[] }>('result', 300000);
  await ceilingChild.stop(3000);
  for (const c of ceilings)
    log(`  ${c.model}: ${c.itemsPerSec.toFixed(0)} items/s at batch ${c.bestBatch} (threads per lane ${config.threadsPerLane})`);

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
  const knees: Knee[] = [];
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
  /** Closed-loop probe of each model on this peer: the former capacity, kept as a cross-check. */
  const closedLoop = async (session: PeerSession) => {
    for (const { model, calibrationFn, closedConcurrency } of MODELS) {
      const r = await session.closedLoopThroughput(calibrationFn, closedConcurrency, plan.calibrationMs);
      if (!(r.perSec > 0))
        throw new HarnessError(`closed-loop probe of ${model} gave no replies: is the ${session.def.name} server answering?`);
      (calibration[model] ??= []).push({ peer: session.def.name, ...r, concurrency: closedConcurrency, fn: calibrationFn });
      log(
        `  closed loop ${model}: ${r.perSec.toFixed(0)} req/s on ${session.def.name} (${calibrationFn}, ${closedConcurrency} in flight, mean batch ${r.meanBatch.toFixed(1)})`,
      );
    }
  };
  /** The open-loop knee of each model on the capacity peer: C. */
  const measureCapacity = async (session: PeerSession) => {
    for (const { model, fn } of MODELS) {
      const start = calibration[model]?.find((c) => c.peer === session.def.name)?.perSec ?? 100;
      const k = await findKnee(session, { model, fn, startPerSec: start, seed: seedOf(`knee:${model}`) }, plan.knee, kneeOpts);
      knees.push(k);
      capacity.set(model, k.capacityPerSec);
      log(
        `  capacity C(${model}) = ${k.capacityPerSec.toFixed(0)} req/s (open-loop knee of ${fn}${k.found ? '' : '; no probe kept the SLO, the lowest rate probed'})`,
      );
    }
  };
  /** Before a run: wait (within the plan's budget) for other processes on the machine to calm down. */
  const quiet = async () => {
    if (quietBudgetMs <= 0 || plan.quietWait.perRunMs <= 0) return;
    const q = await waitForQuiet(Math.min(plan.quietWait.perRunMs, quietBudgetMs));
    quietBudgetMs -= q.waitedMs;
    if (q.waitedMs > 1000)
      log(`  waited ${(q.waitedMs / 1000).toFixed(0)} s for other processes to calm down (now ${q.cores.toFixed(2)} cores)`);
  };
  const kneeOpts = { idleTimeoutMs: plan.idleTimeoutMs, pauseMs: plan.pauseMs, beforeProbe: quiet, log };
  const runOne = async (session: PeerSession, spec: RunSpec) => {
    await quiet();
    const rec = await session.measure(spec, plan.idleTimeoutMs);
    runs.push(rec);
    const f = rec.figures;
    const main = f.mainThreadCpuUsPerCall === null ? '-' : f.mainThreadCpuUsPerCall.toFixed(0);
    log(
      `  ${session.def.name} ${spec.scenario} ${spec.label}: ${f.offeredPerSec.toFixed(0)}/s offered, goodput ${f.goodputPerSec.toFixed(0)}/s, ` +
        `attainment ${(100 * f.sloAttainment).toFixed(1)}%, p50 ${f.p50Ms.toFixed(1)} p99 ${f.p99Ms.toFixed(1)} ms, batch ${f.meanBatch?.toFixed(1) ?? '-'}, shed ${f.shed}, lost ${f.timeouts + f.connectionErrors}, main ${main} us/call` +
        (rec.notes.length ? ` [${rec.notes.join('; ')}]` : ''),
    );
    await new Promise((r) => setTimeout(r, plan.pauseMs));
  };

  for (const def of PEERS) {
    log(`peer ${def.name}: starting`);
    const session = await PeerSession.start(def, env, def.policy === 'fixed-delay' ? fixedDelay : undefined);
    await warmUp(session);
    if (plan.closedLoopPeers.includes(def.name)) await closedLoop(session);
    if (def.name === CAPACITY_PEER) await measureCapacity(session);
    if (capacity.size < MODELS.length)
      throw new HarnessError(`no capacity yet when ${def.name} runs: ${CAPACITY_PEER} must come first in PEERS`);
    if (def.echo) {
      const k = await findKnee(
        session,
        { model: 'mlp', fn: 'mlp-classify', startPerSec: capacity.get('mlp')!, seed: seedOf('knee:echo') },
        plan.echoKnee,
        kneeOpts,
      );
      knees.push(k);
      log(`  ${def.name} knee: ${k.capacityPerSec.toFixed(0)} req/s`);
    }
    for (const spec of def.echo ? hostSpecs(plan, capacity) : runSpecs(plan, capacity, def)) await runOne(session, spec);
    restarts[def.name] = session.restarts;
    await session.stop();
    if (def.name === 'greedy') {
      fixedDelay = tuneFixedDelay(plan, runs, fns);
      for (const [m, s] of Object.entries(fixedDelay))
        log(`  fixed-delay for ${m}: preferred batch ${s.preferredBatchSize}, max queue delay ${s.maxQueueDelayMs} ms`);
    }
  }
  log(`host-path pair: ${PAIR_RUNTIME} and hono-echo loaded together`);
  const hostPair = await measurePair(plan, env, capacity.get('mlp')!);
  log(`  ${hostPairLine(hostPair)}`);
  await loadgen.stop(3000);

  const data: BenchData = {
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
    knees,
    calibration,
    fixedDelay: fixedDelay ?? {},
    restarts,
    runs,
    hostPair,
  };
  const files = await writeReport(outDir, data);
  log('summary:');
  for (const line of consoleSummary(data)) log(`  ${line}`);
  log(`done in ${Math.round((performance.now() - startedAt) / 1000)} s: ${files.map((f) => path.relative(root, f)).join(', ')}`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    for (const c of children) if (!c.exited) c.proc.kill('SIGKILL');
    process.exit(1);
  },
);
