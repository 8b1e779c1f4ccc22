/**
 * `npm run host-cost`: main-thread CPU per call on the host path, three ways at one offered rate, in one run:
 * - `hono-echo`: the bare Hono app of the bench (test/bench/peers/hono-echo.ts) taking the same MLP body,
 *   the HTTP limit of this machine;
 * - `served`: the runtime (hono.config.ts as shipped) answering `mlp-classify`;
 * - `refused`: the same runtime refusing every call at the front door, forced with `x-slo-ms: 0.0001` (no
 *   call can meet that deadline), so a 503 is measured directly rather than solved from mixed runs.
 * Each is main-thread CPU (the server's /proc/thread-self/schedstat, as /metrics and the peer's /stats
 * report it) over the calls answered, after a warm-up second, in `--rounds` alternating rounds so that a
 * noisy stretch of the shared machine hits all three. Load is the bench's open-loop Poisson generator
 * (test/bench/loadgen.ts) in this process; the servers are child processes on 127.0.0.1.
 *
 * With `--together`, hono-echo and the served runtime are measured at the same time, each at `--rate`, so
 * that the shared machine's other load weighs on both alike; the refusals are still measured alone.
 *
 *   npm run host-cost -- [--rate 3000] [--seconds 5] [--rounds 2] [--together]
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mlpBodies } from '../test/bench/harness/bodies.ts';
import { mainThreadUsPerCall, median, stagesPerCall, type ServerSnapshot } from '../test/bench/harness/figures.ts';
import { peerSnapshot, runtimeSnapshot } from '../test/bench/harness/server-stats.ts';
import { runOpen } from '../test/bench/loadgen.ts';
import { forkTs } from '../test/bench/harness/processes.ts';
import { sloHeader } from '../runtime/shared/edge-protocol.ts';
import { startRuntimeProcess } from './runtime-process.ts';
import { ensureModels } from './gen-models.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    together: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const together = values.together;
if (!(rate > 0 && rate <= 20000)) throw new RangeError('--rate must be in (0, 20000]');
if (!(seconds > 0 && seconds <= 60)) throw new RangeError('--seconds must be in (0, 60]');
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)) throw new RangeError('--rounds must be an integer in [1, 10]');

/** One MLP body, sent by every call (the bodies are made once). */
const body = mlpBodies()[0];

/** Open-loop Poisson load at `rate` for `ms` on mlp-classify, the bench's generator in this process. */
function load(url: string, headers: Record<string, string>, ms: number, seed: number) {
  return runOpen({
    kind: 'open',
    url,
    seed,
    ratePerSec: rate,
    leadInMs: 0,
    durationMs: ms,
    drainMs: 5000,
    maxConnections: 512,
    streams: [{ fn: 'mlp-classify', weight: 1, bodies: [body], headers: { 'content-type': 'application/json', ...headers } }],
  });
}

/** Main-thread CPU per answered call, us, over `seconds` at `rate` after one unmeasured second. */
async function measure(url: string, headers: Record<string, string>, snapshot: (url: string) => Promise<ServerSnapshot>, seed: number) {
  await load(url, headers, 1000, seed);
  const before = await snapshot(url);
  const r = await load(url, headers, seconds * 1000, seed + 1);
  const after = await snapshot(url);
  const statuses: Record<number, number> = {};
  for (const st of r.status) statuses[st] = (statuses[st] ?? 0) + 1;
  const calls = r.status.filter((st) => st > 0).length;
  const us = mainThreadUsPerCall(before, after, calls) ?? NaN;
  const batches = before.batches === null || after.batches === null ? null : after.batches - before.batches;
  const meanBatch = batches ? calls / batches : null;
  return { us, statuses, meanBatch, stages: stagesPerCall(before.hostStageSec, after.hostStageSec, calls) };
}

/** `parse 10.2, validate 3.1, ...`: us per call in each host stage. */
const stageLine = (stages: Record<string, number> | null) =>
  stages
    ? Object.entries(stages)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')
    : 'not reported';

async function main(): Promise<void> {
  await ensureModels({ log: false });
  const runtime = await startRuntimeProcess({ root });
  const runtimeUrl = runtime.url;
  const logDir = path.join(root, 'bench-results/tmp');
  await mkdir(logDir, { recursive: true });
  const echo = forkTs('hono-echo', path.join(root, 'test/bench/peers/hono-echo.ts'), [], { cwd: root, logDir });
  try {
    const { url: echoUrl } = await echo.next<{ url: string }>('ready', 60000);
    console.log(`[host-cost] ${rate}/s for ${seconds} s per measurement, ${rounds} rounds; main-thread CPU per answered call`);
    const rows: { echo: number; served: number; refused: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      // --together: hono-echo and the served runtime under load at the same time, so that whatever else
      // the shared machine runs weighs on both alike (their ratio is then steadier than their values).
      const [e, s] = together
        ? await Promise.all([measure(echoUrl, {}, peerSnapshot, 10 * i), measure(runtimeUrl, {}, runtimeSnapshot, 10 * i + 2)])
        : [await measure(echoUrl, {}, peerSnapshot, 10 * i), await measure(runtimeUrl, {}, runtimeSnapshot, 10 * i + 2)];
      const r = await measure(runtimeUrl, { [sloHeader]: '0.0001' }, runtimeSnapshot, 10 * i + 4);
      rows.push({ echo: e.us, served: s.us, refused: r.us });
      console.log(
        `[host-cost] round ${i + 1}: hono-echo ${e.us.toFixed(0)} us ${JSON.stringify(e.statuses)}; served ${s.us.toFixed(0)} us ${JSON.stringify(s.statuses)}; refused ${r.us.toFixed(0)} us ${JSON.stringify(r.statuses)}`,
      );
      console.log(`[host-cost]   served: mean batch ${s.meanBatch?.toFixed(1) ?? '-'}; host stages, us per call: ${stageLine(s.stages)}`);
      console.log(
        `[host-cost]   served / hono-echo ${(s.us / e.us).toFixed(2)}, refused / served ${(r.us / s.us).toFixed(2)}, refused / hono-echo ${(r.us / e.us).toFixed(2)}`,
      );
    }
    if (rows.length > 1) {
      const ratio = rows.map((r) => r.served / r.echo);
      console.log(
        `[host-cost] median of ${rows.length} rounds: hono-echo ${median(rows.map((r) => r.echo)).toFixed(0)} us, served ${median(rows.map((r) => r.served)).toFixed(0)} us, refused ${median(rows.map((r) => r.refused)).toFixed(0)} us; served / hono-echo ${median(ratio).toFixed(2)} (rounds ${Math.min(...ratio).toFixed(2)}-${Math.max(...ratio).toFixed(2)})`,
      );
    }
  } finally {
    await runtime.stop(15000);
    await echo.stop(5000);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`host-cost failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
