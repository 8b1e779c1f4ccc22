/**
 * The formula scheduler on a real runtime under real open-loop HTTP load: what it reports, whether the
 * measured latency sits under its bound, and whether overload is shed (503) rather than answered late.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { upright } from '../helpers/fixtures.ts';
import { openLoop, type Sent } from '../helpers/open-loop.ts';
import { call, startRuntime } from '../helpers/serve.ts';
import { machineBusyMs } from '../bench/harness/machine.ts';

let s: Serving;
before(async () => {
  s = await startRuntime();
});
after(() => s.stop());

const describeFn = async (name: string) => (await (await fetch(`${s.url}/functions/${name}`)).json()) as any;
const features = () => ({ features: Array.from({ length: 128 }, () => Math.random() * 2 - 1) });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('what GET /functions/:name reports', () => {
  test('fit, live figures and the prediction exist from the warm-up probe on, and are coherent', async () => {
    const d = await describeFn('mlp-classify');
    assert.ok(d.fit.samples >= 6, 'the warm-up probe fed the fit');
    assert.ok(d.fit.alphaMs >= 0 && d.fit.tau0Ms >= 0 && d.fit.r2 <= 1);
    assert.equal(d.feasibility.feasible, true);
    for (let i = 0; i < 20; i++) assert.equal((await call(s.url, 'mlp-classify', features())).status, 200);
    const after = await describeFn('mlp-classify');
    for (const k of ['ratePerSec', 'meanLatencyMs', 'p99LatencyMs', 'sloAttainment', 'meanBatch'])
      assert.equal(typeof after.live[k], 'number', k);
    for (const k of ['meanLatencyBoundMs', 'holdMs', 'joulesPerInference']) assert.equal(typeof after.prediction[k], 'number', k);
    // The path's max rate is finite while either stage costs something per call: the device's fitted alpha
    // or the host monitor's loop time per call (what maxRateWithinPath takes; 0 until a 200 ms window has
    // had 20 calls). Only with neither is there no limit (JSON has no Infinity: null). A fit of alpha 0 alone
    // still has the host's limit (seen in CI: 98/s).
    const limited = after.fit.alphaMs > 0 || after.host.perCallMs > 0;
    if (limited) assert.ok(after.prediction.maxRatePerSec > 0, `maxRatePerSec ${after.prediction.maxRatePerSec}`);
    else assert.equal(after.prediction.maxRatePerSec, null);
    assert.ok(after.live.sloAttainment > 0 && after.live.sloAttainment <= 1);
    assert.equal(after.prediction.energySource, 'model');
  });

  test('/metrics exports requests by outcome, latency, batch sizes, shed count, live rate and the predicted bound', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /edgebatch_requests_total\{function="mlp-classify",model="mlp",outcome="ok"\} \d+/);
    assert.match(text, /edgebatch_request_duration_seconds_bucket\{le="0.05",function="mlp-classify",model="mlp"\} \d+/);
    assert.match(text, /edgebatch_queue_duration_seconds_count\{function="mlp-classify",model="mlp"\} \d+/);
    assert.match(text, /edgebatch_batch_size_count\{model="mlp"\} \d+/);
    assert.match(text, /edgebatch_arrival_rate_per_sec\{model="mlp"\} [\d.e+-]+/);
    assert.match(text, /edgebatch_predicted_mean_latency_bound_seconds\{model="mlp"\} [\d.e+-]+/);
    assert.match(text, /# TYPE edgebatch_shed_total counter/);
    assert.match(text, /edgebatch_process_nodejs_eventloop_lag_p99_seconds/);
  });
});

describe('under open-loop load', () => {
  test('MLP at moderate load: measured mean (queue + device) sits under the bound the runtime reports', async (t) => {
    const busy0 = machineBusyMs();
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const load = openLoop(s.url, 'mlp-classify', features, 150, 4000, 11);
    // Read the prediction while the load runs, at the live rate, every 250 ms from 1 s to 3.75 s. The
    // policy's hold (and with it the bound) moves with its guards, switching between h* and 0; U_h grows with
    // h, so a run whose holds never exceeded the longest one sampled has its mean under that hold's bound.
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const bounds: number[] = [];
    await sleep(750);
    for (let i = 0; i < 12; i++) {
      await sleep(250);
      bounds.push((await describeFn('mlp-classify')).prediction.meanLatencyBoundMs);
    }
    const reported = { meanLatencyBoundMs: Math.max(...bounds) };
    const sent = await load;
    const ok = sent.filter((r) => r.status === 200);
    // What the scheduler promises is an answer to every call: 200, or 503 with Retry-After when admission
    // judges the call would be late (on a loaded shared machine the host stage is slower, so more are
    // refused; how many says how busy the machine was, not whether the scheduler is right). The bound is then
    // judged on the calls it served, of which there must be enough for a mean.
    const others = sent.filter((r) => r.status !== 200 && !(r.status === 503 && Number(r.retryAfter) >= 1));
    assert.deepEqual(
      others.map((r) => r.status),
      [],
      'every call is answered 200 or 503 with Retry-After',
    );
    assert.ok(ok.length >= 100, `${ok.length} of ${sent.length} answered 200: too few for a mean`);
    const measured = mean(ok.map((r) => r.queueMs + r.inferenceMs));
    // The formula models this process on cores it has to itself. When other processes took a core or more
    // during the load (another test suite, a build), the lane and the loop were preempted for times no
    // model of this runtime sees; the bound is then not judged, and the test says so rather than pass.
    const own = process.cpuUsage(own0);
    const otherCores = (machineBusyMs() - busy0 - (own.user + own.system) / 1000) / (performance.now() - t0);
    const figures = `measured ${measured.toFixed(2)} ms vs bound ${Math.max(...bounds).toFixed(2)} ms; other processes used ${otherCores.toFixed(2)} cores`;
    if (otherCores > 0.5) {
      t.skip(`the machine was shared during the load, the bound is not judged: ${figures}`);
      return;
    }
    t.diagnostic(figures);
    // The bound is on the mean of queue + device time, the span the formula models. What the formula does
    // not see - timers firing late, the lane's reply waiting for a busy event loop on 2 shared cores - is
    // allowed for with 25% + 1 ms; on a quiet machine the measured mean sits under the bound itself.
    assert.ok(
      measured <= 1.25 * reported.meanLatencyBoundMs + 1,
      `measured ${measured.toFixed(2)} ms vs bound ${reported.meanLatencyBoundMs.toFixed(2)} ms`,
    );
  });

  test('beyond the largest sustainable rate, calls are shed with 503 + Retry-After rather than answered late', async () => {
    const line = upright[0].base64;
    const d = await describeFn('read-line');
    const rate = Math.max(8, 3 * d.prediction.maxRatePerSec);
    const overload = async (seed: number) => {
      const sent: Sent[] = await openLoop(s.url, 'read-line', () => ({ image: line }), rate, 3000, seed);
      const ok = sent.filter((r) => r.status === 200);
      return { sent, ok, shed: sent.filter((r) => r.status === 503), late: ok.filter((r) => r.latencyMs > 500) };
    };
    // Baseline in the same run: the same overload with admission control off.
    s.runtime.setAdmission(false);
    const without = await overload(5);
    s.runtime.setAdmission(true);
    await new Promise((r) => setTimeout(r, 1500)); // let the queue drain and the rate meter settle
    const withAdmission = await overload(6);
    const { sent, ok, shed, late } = withAdmission;
    assert.equal(shed.length + ok.length, sent.length, 'every call got 200 or 503');
    assert.ok(shed.length > 0, `offered ${rate.toFixed(1)}/s against a max of ${d.prediction.maxRatePerSec.toFixed(1)}/s: some were shed`);
    for (const r of shed) assert.ok(Number(r.retryAfter) >= 1);
    const lateShare = (x: { late: unknown[]; sent: unknown[] }) => x.late.length / x.sent.length;
    const figures = `late: ${withAdmission.late.length} of ${sent.length} with admission, ${without.late.length} of ${without.sent.length} without`;
    assert.equal(without.shed.length, 0);
    assert.ok(lateShare(withAdmission) < 0.5 * lateShare(without), figures);
    assert.ok(late.length < ok.length, figures);
  });
});
