/**
 * `npm run profile`: where the runtime's main thread spends its time under load.
 *
 * Starts the real runtime (`node --cpu-prof runtime/cli/bin.mjs start`, hono.config.ts as shipped) on
 * 127.0.0.1, drives open-loop Poisson load at one function with the benchmark's load generator and client,
 * stops the server with SIGTERM so V8 writes its .cpuprofile, then prints the main thread's self time by
 * category and its top functions, for the load window only.
 *
 *   npm run profile -- [--rate 1500] [--seconds 8] [--fn mlp-classify] [--port N] [--interval-us 1000] [--sources] [--peer hono-echo] [--refused] [--perf]
 *
 * The runtime runs from the build (dist/), as `npm start` does, so its own frames are the build's chunks;
 * `--sources` runs runtime/ through tsx instead (EDGEBATCH_SOURCES=1), so that each frame names its file.
 *
 * `--peer hono-echo` profiles the bench's bare Hono app (test/bench/peers/hono-echo.ts) under the same load
 * instead, with the same categories: the baseline the runtime's host path is measured against, so that two
 * profiles side by side show what the runtime adds.
 *
 * `--refused` profiles the refusal path instead: every call carries `x-slo-ms: 0.0001`, a deadline no call can
 * meet, so the front door answers each with a 503 before its body is read (as `npm run host-cost` forces it).
 *
 * `--perf` samples the server's main thread with Linux `perf` instead (`perf record -e cpu-clock -g` on that
 * thread for the profiled seconds, started when the lead-in ends, so give or take the load generator's own
 * start; the server started with `--perf-basic-prof-only-functions --interpreted-frames-native-stack` so
 * JavaScript frames have names), then prints its CPU by phase of the event loop, the V8 slow paths and the leaf symbols
 * (test/bench/report/perf-stacks.ts), per call answered. It sees what V8's profiler does not: native code,
 * V8's builtins and runtime calls, the kernel. It needs `perf` (Debian: `apt-get install linux-perf`) and
 * leave to record the kernel too (`kernel.perf_event_paranoid` at most 1, or root); without them it says so
 * and stops. Node's /tmp/perf-<pid>.map, which names the JavaScript frames, is left for `perf report`.
 *
 * Without --port (or with 0) the server gets a port that was free a moment before it starts (scripts/runtime-process.ts).
 *
 * Bounded: at most 20,000 requests/s for at most 60 s, replies awaited 3 s after the last send, the
 * server given 20 s to stop before it is killed. Profiles (and perf.data) go to bench-results/tmp/profile/<time>/.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { readdir, readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeBodies } from '../test/bench/harness/bodies.ts';
import { quantile } from '../test/bench/harness/figures.ts';
import { runOpen } from '../test/bench/loadgen.ts';
import { forkTs } from '../test/bench/harness/processes.ts';
import { formatSummary, summarize, type CpuProfile } from '../test/bench/report/cpu-profile.ts';
import { formatPerfSummary, parsePerfScript, summarizePerf } from '../test/bench/report/perf-stacks.ts';
import { sloHeader } from '../runtime/shared/edge-protocol.ts';
import { startRuntimeProcess } from './runtime-process.ts';
import { ensureModels } from './gen-models.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1500' },
    seconds: { type: 'string', default: '8' },
    fn: { type: 'string', default: 'mlp-classify' },
    port: { type: 'string', default: '0' },
    'interval-us': { type: 'string', default: '1000' },
    sources: { type: 'boolean', default: false },
    peer: { type: 'string' },
    refused: { type: 'boolean', default: false },
    perf: { type: 'boolean', default: false },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const port = Number(values.port);
const intervalUs = Number(values['interval-us']);
if (!(rate > 0 && rate <= 20000)) throw new RangeError('--rate must be in (0, 20000]');
if (!(seconds > 0 && seconds <= 60)) throw new RangeError('--seconds must be in (0, 60]');
if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new RangeError('--port must be a port number (0: a free one)');
if (!(intervalUs >= 50)) throw new RangeError('--interval-us must be at least 50');
if (values.peer !== undefined && values.peer !== 'hono-echo') throw new RangeError('--peer must be hono-echo');
if (values.refused && values.peer !== undefined)
  throw new RangeError('--refused profiles the runtime refusing calls; hono-echo refuses none');

const log = (msg: string) => console.log(`[profile] ${msg}`);

/** perf's sampling rate, per second of the thread's CPU: 16,000 samples in 8 s, without slowing it much. */
const perfHz = 2000;

/** Now on the monotonic clock V8's profiler stamps samples with, us. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);
/** An epoch time in ms (performance.timeOrigin + now) on that clock. */
const epochToMonoUs = (epochMs: number) => monoUs() + (epochMs - (performance.timeOrigin + performance.now())) * 1000;

async function main(): Promise<void> {
  await ensureModels({ log: false });
  const dir = path.join(root, 'bench-results/tmp/profile', new Date().toISOString().replace(/[:.]/g, '-'));
  await mkdir(dir, { recursive: true });
  const logFile = path.join(dir, 'server.log');
  if (values.perf) perfAvailable();
  const profiling = values.perf
    ? ['--perf-basic-prof-only-functions', '--interpreted-frames-native-stack']
    : ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${intervalUs}`];
  const rt = values.peer
    ? await startEcho(profiling, dir)
    : await startRuntimeProcess({
        root,
        port,
        nodeArgs: profiling,
        logLevel: process.env.LOG_LEVEL ?? 'warn',
        logFile,
        env: values.sources ? { EDGEBATCH_SOURCES: '1' } : {},
      });
  const url = rt.url;
  try {
    log(`${values.peer ?? 'runtime'} pid ${rt.child.pid} on ${url}${values.peer ? '' : ` (log ${path.relative(root, logFile)})`}`);
    // The peer answers any function name with the same work; it is fed the runtime's bodies for the MLP.
    const info = values.peer
      ? { model: 'mlp', sloMs: undefined }
      : ((await (await fetch(`${url}/functions/${values.fn}`)).json()) as { model?: string; sloMs?: number });
    if (!info.model) throw new Error(`the runtime does not serve "${values.fn}"`);
    const bodies = await makeBodies(root, [{ name: values.fn!, model: info.model }]);
    const leadInMs = 1000;
    log(
      `load${values.refused ? ' (every call refused: x-slo-ms 0.0001)' : ''}: ${rate}/s on ${values.fn} (model ${info.model}, SLO ${info.sloMs} ms) for ${leadInMs / 1000} s lead-in + ${seconds} s profiled`,
    );
    // perf records the server's main thread (its thread id is its pid) for the profiled seconds, from the
    // end of the lead-in.
    const perfData = path.join(dir, 'perf.data');
    const recording = values.perf ? recordPerf(rt.child.pid!, perfData, leadInMs, seconds) : undefined;
    // Handled at once, awaited (and so thrown) after the load: a perf that fails during the load must not be
    // an unhandled rejection, which would end this script before `finally` stops the server.
    recording?.catch(() => {});
    const r = await runOpen({
      kind: 'open',
      url,
      seed: 7,
      ratePerSec: rate,
      leadInMs,
      durationMs: seconds * 1000,
      drainMs: 3000,
      maxConnections: 1024,
      streams: [
        {
          fn: values.fn!,
          weight: 1,
          bodies: bodies.get(values.fn!)!,
          ...(values.refused ? { headers: { 'content-type': 'application/json', [sloHeader]: '0.0001' } } : {}),
        },
      ],
    });
    const window = { fromUs: epochToMonoUs(r.startEpochMs), toUs: epochToMonoUs(r.startEpochMs + seconds * 1000) };
    // The profile covers the load window only: so do these counts (the lead-in's calls are left out).
    const measured = Array.from(r.status.keys()).filter((i) => r.warmup[i] === 0);
    const count = (f: (s: number) => boolean) => measured.filter((i) => f(r.status[i])).length;
    const lat = measured.filter((i) => r.status[i] === 200).map((i) => r.latencyMs[i]);
    log(
      `sent ${measured.length} after the lead-in: 200 ${count((s) => s === 200)}, 503 ${count((s) => s === 503)}, other ${count((s) => s > 0 && s !== 200 && s !== 503)}, lost ${count((s) => s <= 0)}${lat.length ? `; 200 p50 ${quantile(lat, 0.5).toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms` : ''}`,
    );
    if (recording) {
      await recording;
      const { stdout } = await promisify(execFile)('perf', ['script', '-i', perfData], { maxBuffer: 1 << 30 });
      const answered = count((s) => s > 0);
      const summary = summarizePerf(parsePerfScript(stdout), (f) => f.replaceAll(pathToFileURL(root).href, '').replaceAll(root, ''));
      console.log('');
      for (const line of formatPerfSummary(summary, 15, { calls: answered, hz: perfHz })) console.log(line);
      console.log('');
      log(
        `perf data: ${path.relative(root, perfData)} (perf report -i ${path.relative(root, perfData)}, with /tmp/perf-${rt.child.pid}.map naming its JavaScript frames: delete it when done); the sampling itself costs the thread some CPU`,
      );
      return;
    }
    log(`stopping the ${values.peer ?? 'runtime'} so it writes its profile`);
    const code = await rt.stop();
    if (code !== 0) throw new Error(`the runtime exited with ${code ?? 'a signal'} (log ${logFile}); no profile to read`);

    // Files are CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    const main = files.find((f) => f.split('.')[4] === '0');
    if (!main) throw new Error(`no main-thread profile in ${dir} (found: ${files.join(', ') || 'none'})`);
    const profile = JSON.parse(await readFile(path.join(dir, main), 'utf8')) as CpuProfile;
    const summary = summarize(profile, root, window);
    console.log('');
    for (const line of formatSummary(summary, 15)) console.log(line);
    console.log('');
    log(`main-thread profile: ${path.relative(root, path.join(dir, main))} (open it in Chrome DevTools > Performance, or VS Code)`);
    if (files.length > 1)
      log(`other threads' profiles (lanes): ${files.filter((f) => f !== main).length} more in ${path.relative(root, dir)}`);
  } finally {
    await rt.stop(0);
  }
}

/** Stops with a clear message where Linux perf is missing or may not record this user's threads. */
function perfAvailable(): void {
  const v = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0)
    throw new Error('--perf needs Linux perf on the PATH (Debian: apt-get install linux-perf; it matches any kernel of these VMs)');
  // At perf_event_paranoid 2 perf records without the kernel's frames and says so only in a warning: the
  // figures would leave out the syscalls (socket reads and writes), so that is refused as well.
  const paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
  if (paranoid > 1 && process.getuid?.() !== 0)
    throw new Error(`perf may not record the kernel here (kernel.perf_event_paranoid is ${paranoid}): run as root or set it to 1`);
  const probe = spawnSync('perf', ['record', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error(
      `perf may not record here (${(probe.stderr || '').trim().split('\n')[0]}): run as root or lower kernel.perf_event_paranoid to 1`,
    );
}

/** Records `tid` with perf for `seconds`, starting after `delayMs`; resolves when perf has written `out`. */
function recordPerf(tid: number, out: string, delayMs: number, seconds: number): Promise<void> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      const args = ['record', '-e', 'cpu-clock', '-F', String(perfHz), '-g', '-t', String(tid), '-o', out, '--', 'sleep', String(seconds)];
      const perf = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      perf.stderr.on('data', (d: Buffer) => (err += d.toString()));
      perf.on('error', reject);
      perf.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`perf record exited with ${code}: ${err.trim()}`))));
    }, delayMs);
  });
}

/** The bench's hono-echo peer (the harness's own fork), with `nodeArgs`; stopped over its IPC channel. */
async function startEcho(
  nodeArgs: string[],
  logDir: string,
): Promise<{ url: string; child: ChildProcess; stop(graceMs?: number): Promise<number | null> }> {
  const echo = forkTs('hono-echo', path.join(root, 'test/bench/peers/hono-echo.ts'), [], { cwd: root, logDir, nodeArgs });
  const { url } = await echo.next<{ url: string }>('ready', 60000);
  return {
    url,
    child: echo.proc,
    async stop(graceMs = 20000) {
      await echo.stop(graceMs);
      return echo.proc.exitCode;
    },
  };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`profile failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
