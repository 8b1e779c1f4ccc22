/**
 * The open-loop load generator, run as its own process (forked by the harness with tsx) so it never
 * shares an event loop with the harness or a server.
 *
 * It takes one job at a time over IPC and answers with one result message:
 * - `open`: requests leave on a seeded Poisson schedule fixed in advance (runtime/scheduler/arrivals.ts,
 *   the same schedules the simulator uses; each arrival picks its function by weight). Latency is measured
 *   from each request's SCHEDULED send time, so a late send (the generator or the server falling behind)
 *   counts against the server instead of being hidden (no coordinated omission). Bounded: nothing is sent
 *   after the schedule ends, and whatever has no reply `drainMs` after the last scheduled send is recorded
 *   as a timeout and its connection closed. An optional trickle follows the measured part at once (its own
 *   Poisson schedule at a low rate), to see how a server recovers from what came before.
 * - `closed`: `concurrency` requests in flight, each reply followed by the next request at once (after a
 *   refusal, 10 ms later), for `durationMs`: only the closed-loop cross-check reported beside the
 *   capacity (which is found with open-loop runs, harness/capacity.ts).
 *
 * Results are columns of typed arrays (one entry per request), sent with advanced IPC serialization.
 */
import { burstArrivals, mulberry32, poissonArrivals, type Burst } from '../../runtime/scheduler/arrivals.ts';
import { ClientPool, type Reply } from './client.ts';

/** Assigns each of `count` arrivals to a stream with probability proportional to its weight (seeded). */
export function assignStreams(count: number, weights: readonly number[], seed: number): Uint8Array {
  const total = weights.reduce((a, w) => a + w, 0);
  if (!(total > 0) || weights.length > 255) throw new RangeError('stream weights must be positive, at most 255 streams');
  const rand = mulberry32(seed ^ 0x9e3779b9);
  const out = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    let u = rand() * total;
    let s = 0;
    while (s < weights.length - 1 && u >= weights[s]) u -= weights[s++];
    out[k] = s;
  }
  return out;
}

export interface Stream {
  /** Function name: requests go to POST /functions/<fn>, unless `path` says otherwise. */
  fn: string;
  /** Share of the total rate (relative weight). */
  weight: number;
  /** Request bodies, sent round-robin. */
  bodies: (string | Uint8Array)[];
  /** Another route than the function's (the v2 infer route), and its headers (default: JSON). */
  path?: string;
  headers?: Record<string, string>;
}

export interface OpenJob {
  kind: 'open';
  url: string;
  seed: number;
  /** Total arrival rate of all streams together. */
  ratePerSec: number;
  /** Arrivals before this are warm-up: sent and answered, flagged, left out of the figures. */
  leadInMs: number;
  /** Measured part of the schedule, after the lead-in. */
  durationMs: number;
  /** A burst, its time counted from the end of the lead-in. */
  burst?: Burst;
  /** Arrivals at this rate for this long right after the measured part (scheduled from `durationMs` on). */
  trickle?: { ratePerSec: number; durationMs: number };
  drainMs: number;
  maxConnections: number;
  streams: Stream[];
}

export interface ClosedJob {
  kind: 'closed';
  url: string;
  concurrency: number;
  durationMs: number;
  maxConnections: number;
  streams: Stream[];
}

export type Job = OpenJob | ClosedJob;

/** One entry per request. Times in ms; the schedule's zero is the end of the lead-in. */
export interface LoadResult {
  kind: Job['kind'];
  fns: string[];
  stream: Uint8Array;
  scheduledMs: Float64Array;
  /** How late the request actually left, ms. */
  sendLagMs: Float64Array;
  /** Scheduled send to full reply, ms; NaN for a timeout. */
  latencyMs: Float64Array;
  /** HTTP status; 0 = timeout (no reply within the drain), -1 = connection failed. */
  status: Int16Array;
  batchSize: Int32Array;
  batchId: Float64Array;
  serverQueueInferenceMs: Float64Array;
  warmup: Uint8Array;
  /** Wall clock (ms since epoch) of the schedule's zero and of the last reply or timeout. */
  startEpochMs: number;
  endEpochMs: number;
  cpuMs: number;
  peakConnections: number;
}

function columns(n: number, fns: string[], kind: Job['kind']): LoadResult {
  return {
    kind,
    fns,
    stream: new Uint8Array(n),
    scheduledMs: new Float64Array(n),
    sendLagMs: new Float64Array(n),
    latencyMs: new Float64Array(n).fill(NaN),
    status: new Int16Array(n),
    batchSize: new Int32Array(n),
    batchId: new Float64Array(n),
    serverQueueInferenceMs: new Float64Array(n).fill(NaN),
    warmup: new Uint8Array(n),
    startEpochMs: 0,
    endEpochMs: 0,
    cpuMs: 0,
    peakConnections: 0,
  };
}

function record(r: LoadResult, i: number, reply: Reply, latencyMs: number): void {
  r.status[i] = reply.status;
  r.latencyMs[i] = latencyMs;
  r.batchSize[i] = reply.batchSize;
  r.batchId[i] = reply.batchId;
  r.serverQueueInferenceMs[i] = reply.serverQueueInferenceMs;
}

function requestBytes(url: string, streams: Stream[]): Buffer[][] {
  return streams.map((s) => s.bodies.map((b) => ClientPool.post(url, s.path ?? `/functions/${s.fn}`, b, s.headers)));
}

/** Runs an open-loop job to completion; never throws for a server's failure (those are statuses). */
export async function runOpen(job: OpenJob): Promise<LoadResult> {
  const main = job.leadInMs + job.durationMs;
  const total = main + (job.trickle?.durationMs ?? 0);
  const times = job.burst
    ? burstArrivals(job.ratePerSec, main, { ...job.burst, atMs: job.burst.atMs + job.leadInMs }, job.seed)
    : poissonArrivals(job.ratePerSec, main, job.seed);
  if (job.trickle) for (const t of poissonArrivals(job.trickle.ratePerSec, job.trickle.durationMs, job.seed + 1)) times.push(main + t);
  const streamOf = assignStreams(
    times.length,
    job.streams.map((s) => s.weight),
    job.seed,
  );
  const n = times.length;
  const r = columns(
    n,
    job.streams.map((s) => s.fn),
    'open',
  );
  const bytes = requestBytes(job.url, job.streams);
  const next = job.streams.map(() => 0);
  const pool = new ClientPool(job.url, job.maxConnections);
  const cpu0 = process.cpuUsage();
  let outstanding = 0;
  let sentAll = false;
  let finalised = false;
  let allSent!: () => void;
  let allDone!: () => void;
  const sent = new Promise<void>((res) => (allSent = res));
  const done = new Promise<void>((res) => (allDone = res));
  const t0 = performance.now() + 20; // a moment to get the first timer set
  r.startEpochMs = performance.timeOrigin + t0 + job.leadInMs;

  const fire = (i: number, now: number) => {
    const s = streamOf[i];
    r.stream[i] = s;
    r.scheduledMs[i] = times[i] - job.leadInMs;
    r.warmup[i] = times[i] < job.leadInMs ? 1 : 0;
    r.sendLagMs[i] = now - (t0 + times[i]);
    const list = bytes[s];
    const b = list[next[s]++ % list.length];
    outstanding++;
    pool.request(b, (reply) => {
      if (finalised) return;
      record(r, i, reply, performance.now() - (t0 + times[i]));
      if (--outstanding === 0 && sentAll) allDone();
    });
  };

  let k = 0;
  const tick = () => {
    const now = performance.now();
    while (k < n && t0 + times[k] <= now) fire(k++, now);
    if (k < n) {
      setTimeout(tick, Math.max(0, t0 + times[k] - performance.now()));
    } else {
      sentAll = true;
      allSent();
      if (outstanding === 0) allDone();
    }
  };
  if (n === 0) {
    sentAll = true;
    allSent();
    allDone();
  } else {
    setTimeout(tick, Math.max(0, t0 + times[0] - performance.now()));
  }
  await sent;
  const deadline = t0 + total + job.drainMs;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((res) => (timer = setTimeout(res, Math.max(0, deadline - performance.now()))))]);
  clearTimeout(timer);
  finalised = true;
  // Anything still without a reply is a timeout (status 0, latency NaN).
  pool.destroy();
  r.endEpochMs = performance.timeOrigin + performance.now();
  const c = process.cpuUsage(cpu0);
  r.cpuMs = (c.user + c.system) / 1000;
  r.peakConnections = pool.peakConnections;
  return r;
}

/** Runs a closed-loop job: `concurrency` requests always in flight, for `durationMs`. */
export async function runClosed(job: ClosedJob): Promise<LoadResult> {
  const cap = 200_000; // bound on requests, whatever the duration
  const stream: number[] = [];
  const sched: number[] = [];
  const lat: number[] = [];
  const status: number[] = [];
  const bs: number[] = [];
  const bid: number[] = [];
  const sqi: number[] = [];
  const bytes = requestBytes(job.url, job.streams);
  const weights = job.streams.map((s) => s.weight);
  const picks = assignStreams(cap, weights, 7);
  const pool = new ClientPool(job.url, job.maxConnections);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + job.durationMs;
  let issued = 0;
  let inFlight = 0;
  let finish!: () => void;
  const finished = new Promise<void>((res) => (finish = res));
  const launch = () => {
    if (performance.now() >= stopAt || issued >= cap) {
      if (inFlight === 0) finish();
      return;
    }
    const i = issued++;
    const s = picks[i];
    const start = performance.now();
    const list = bytes[s];
    inFlight++;
    pool.request(list[i % list.length], (reply) => {
      inFlight--;
      stream.push(s);
      sched.push(start - t0);
      lat.push(performance.now() - start);
      status.push(reply.status);
      bs.push(reply.batchSize);
      bid.push(reply.batchId);
      sqi.push(reply.serverQueueInferenceMs);
      // A refused request (503 from admission control) comes back at once; retrying at once would turn
      // the probe into a flood of refusals, so that slot pauses briefly first.
      if (reply.status === 200) launch();
      else setTimeout(launch, 10);
    });
  };
  for (let c = 0; c < job.concurrency; c++) launch();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise<void>((res) => (timer = setTimeout(res, job.durationMs + 10000)))]);
  clearTimeout(timer);
  pool.destroy();
  const r = columns(
    stream.length,
    job.streams.map((s) => s.fn),
    'closed',
  );
  r.stream.set(stream);
  r.scheduledMs.set(sched);
  r.latencyMs.set(lat);
  r.status.set(status);
  r.batchSize.set(bs);
  r.batchId.set(bid);
  r.serverQueueInferenceMs.set(sqi);
  r.startEpochMs = performance.timeOrigin + t0;
  r.endEpochMs = performance.timeOrigin + performance.now();
  const c = process.cpuUsage(cpu0);
  r.cpuMs = (c.user + c.system) / 1000;
  r.peakConnections = pool.peakConnections;
  return r;
}

// As a child process: one job per message, one result per job; exits when the parent goes away.
if (process.send) {
  process.on('message', (msg: { type: 'job'; job: Job } | { type: 'stop' }) => {
    if (msg.type === 'stop') process.exit(0);
    const run = msg.job.kind === 'open' ? runOpen(msg.job) : runClosed(msg.job);
    run.then(
      (result) => process.send!({ type: 'result', result }),
      (err: unknown) => process.send!({ type: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready' });
}
