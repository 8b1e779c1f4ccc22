/**
 * `npm run host-cost`: main-thread CPU per call on the host path, three ways at one offered rate, in one run:
 * - `hono-echo`: the bare Hono app of the bench (test/bench/peers/hono-echo.ts) taking the same MLP body,
 *   the HTTP limit of this machine;
 * - `served`: the runtime (hono.config.ts as shipped) answering `mlp-classify`;
 * - `refused`: the same runtime refusing every call at the front door, forced with `x-slo-ms: 0.0001` (no
 *   call can meet that deadline), so a 503 is measured directly rather than solved from mixed runs.
 * Each is main-thread CPU (the server's /proc/thread-self/schedstat, as /metrics and the peer's /stats
 * report it) over the calls answered, after a warm-up second, in `--rounds` alternating rounds so that a
 * noisy stretch of the shared machine hits all three. Open-loop sends at a fixed rate from this process
 * with the bench's keep-alive client; the servers are child processes on 127.0.0.1.
 *
 *   npm run host-cost -- [--rate 3000] [--seconds 5] [--rounds 2]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ClientPool } from '../test/bench/client.ts';
import { mlpBodies } from '../test/bench/harness/bodies.ts';
import { peerSnapshot, runtimeSnapshot } from '../test/bench/harness/server-stats.ts';
import { freePort } from './free-port.ts';
import { ensureModels } from './gen-models.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { rate: { type: 'string', default: '3000' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!(rate > 0 && rate <= 20000)) throw new RangeError('--rate must be in (0, 20000]');
if (!(seconds > 0 && seconds <= 60)) throw new RangeError('--seconds must be in (0, 60]');
if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)) throw new RangeError('--rounds must be an integer in [1, 10]');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `count` requests at `rate` per second, open loop; resolves with the replies' statuses. */
async function drive(pool: ClientPool, bytes: Buffer, count: number): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        pool.request(bytes, (r) => {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (++done === count) resolve();
        });
      }
      if (sent < count) setTimeout(tick, 1);
    };
    tick();
  });
  return statuses;
}

/** Main-thread CPU per answered call, us, over `seconds` at `rate` after one unmeasured second. */
async function measure(url: string, headers: string, snapshot: (url: string) => Promise<{ mainThreadCpuMs: number | null }>) {
  const body = mlpBodies()[0];
  const bytes = Buffer.from(`POST /functions/mlp-classify HTTP/1.1\r\nhost: ${new URL(url).host}\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const pool = new ClientPool(url, 512);
  try {
    await drive(pool, bytes, Math.round(rate));
    const before = await snapshot(url);
    const statuses = await drive(pool, bytes, Math.round(rate * seconds));
    const after = await snapshot(url);
    const calls = [...statuses.values()].reduce((a, b) => a + b, 0);
    const us = before.mainThreadCpuMs === null || after.mainThreadCpuMs === null ? NaN : (1000 * (after.mainThreadCpuMs - before.mainThreadCpuMs)) / calls;
    return { us, statuses: Object.fromEntries(statuses) };
  } finally {
    pool.destroy();
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(t);
}

async function main(): Promise<void> {
  await ensureModels({ log: false });
  const port = await freePort();
  const runtimeUrl = `http://127.0.0.1:${port}`;
  const runtime = spawn(process.execPath, ['runtime/cli/bin.mjs', 'start'], { cwd: root, env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error' }, stdio: 'ignore' });
  const echo = fork(path.join(root, 'test/bench/peers/hono-echo.ts'), [], { cwd: root, execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  try {
    const echoUrl = await new Promise<string>((resolve) => echo.on('message', (m: { type: string; url: string }) => m.type === 'ready' && resolve(m.url)));
    for (;;) {
      if (runtime.exitCode !== null) throw new Error(`the runtime exited with ${runtime.exitCode}`);
      if (await fetch(`${runtimeUrl}/readyz`).then((r) => r.ok, () => false)) break;
      await sleep(300);
    }
    console.log(`[host-cost] ${rate}/s for ${seconds} s per measurement, ${rounds} rounds; main-thread CPU per answered call`);
    const rows: { echo: number; served: number; refused: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      const e = await measure(echoUrl, '', peerSnapshot);
      const s = await measure(runtimeUrl, '', runtimeSnapshot);
      const r = await measure(runtimeUrl, 'x-slo-ms: 0.0001\r\n', runtimeSnapshot);
      rows.push({ echo: e.us, served: s.us, refused: r.us });
      console.log(`[host-cost] round ${i + 1}: hono-echo ${e.us.toFixed(0)} us ${JSON.stringify(e.statuses)}; served ${s.us.toFixed(0)} us ${JSON.stringify(s.statuses)}; refused ${r.us.toFixed(0)} us ${JSON.stringify(r.statuses)}`);
      console.log(`[host-cost]   served / hono-echo ${(s.us / e.us).toFixed(2)}, refused / served ${(r.us / s.us).toFixed(2)}, refused / hono-echo ${(r.us / e.us).toFixed(2)}`);
    }
  } finally {
    await stop(runtime);
    echo.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`host-cost failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
