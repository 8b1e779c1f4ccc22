import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burstArrivals, mulberry32, poissonArrivals } from '../../runtime/scheduler/arrivals.ts';
import { expectedBatchSize, holdForObjective, meanLatencyBound, meanLatencyBoundWithHold } from '../../runtime/scheduler/formula.ts';
import { fixedDelayPolicy, greedyPolicy, holdPolicy, noBatchingPolicy, sloPolicy } from '../../runtime/scheduler/policies/index.ts';
import { simulate, type SimulationOptions, type SimulationResult } from '../../runtime/scheduler/simulator.ts';
import type { BatchPolicy } from '../../runtime/scheduler/types.ts';
import { VirtualClock } from '../../runtime/scheduler/virtual-clock.ts';

// Set SIM_TABLE=1 to print the grid's table (sim mean, bound, ratio) after the run.

// ---------------------------------------------------------------------------------------------------------
// Statistical error, stated once for every claim below.
//
// A claim about a mean latency is checked on R independent replications: each replication simulates a fresh
// Poisson stream (its own seed) from an empty queue, drops its first items (the warm-up from the empty start:
// 5%, or more where batches are large, see runPlain), and yields one mean. The replication means are independent and, being means of thousands of
// items, close to normal, so their average m has the Student-t interval
//
//     m +- hw,   hw = t * s / sqrt(R)       (s: sample s.d. of the R means)
//
// with t chosen for 99% confidence. When one test asserts k intervals at once (the grid: 75 points), each
// interval is widened to 1 - 0.01/k (Bonferroni), so the whole family holds with 99% confidence: a grid of
// 75 separate 99% intervals would expect a false alarm at about a third of its runs wherever the bound is
// exact (tau0-dominated points, where the queue never empties and the bound's slower system is the real one).
// "Within error" below means within that half-width; the table prints it.

/**
 * Two-sided Student-t quantiles t(1 - 0.01/(2k), df) for df = R - 1 degrees of freedom and k simultaneous
 * intervals (computed with scipy.stats.t.ppf; e.g. t(0.995, 9) = 3.2498 as in printed tables).
 */
const T_99: Record<string, number> = { '19/1': 2.8609, '19/2': 3.1737, '19/75': 4.7694, '9/1': 3.2498 };

interface Estimate {
  readonly mean: number;
  /** Half-width of the mean at 99% confidence (simultaneous over `intervals`). */
  readonly hw: number;
}

function estimate(samples: readonly number[], intervals = 1): Estimate {
  const r = samples.length;
  const t = T_99[`${r - 1}/${intervals}`];
  assert.ok(t, `no t quantile for ${r} replications and ${intervals} intervals`);
  const mean = samples.reduce((a, b) => a + b, 0) / r;
  const sd = Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (r - 1));
  return { mean, hw: (t * sd) / Math.sqrt(r) };
}

/** Seeds for replication `rep` of point `point`: distinct across the whole file. */
const seedOf = (point: number, rep: number) => 1 + point * 1009 + rep * 7;

const WARMUP = 0.05;
/** Never reached in the formula tests (the largest batch there is a few thousand): the formula has no cap. */
const NO_CAP = 1_000_000;

/**
 * A run with neither SLO nor objective in play (the reference policies read neither), cut for warm-up.
 *
 * The queue starts empty and the batch-size chain forgets its start at rate rho per batch, so where batches
 * are large (tau0-dominated points) the start lasts many items: the run is made long enough for at least
 * 16/(1 - rho) batches of the formula's mean size, and the cut drops the first 6/(1 - rho) of them, or 5% of
 * the items if that is more. At the cut, rho^(6/(1 - rho)) < e^-6 (0.25%) of the start is left, and it keeps
 * shrinking geometrically over the measured batches, so the bias it leaves in the mean is far below the
 * replications' spread.
 */
function runPlain(
  policy: BatchPolicy,
  alphaMs: number,
  tau0Ms: number,
  ratePerSec: number,
  minItems: number,
  seed: number,
  holdMs = 0,
): SimulationResult {
  const cost = { alpha: alphaMs / 1000, tau0: tau0Ms / 1000 };
  const rho = (ratePerSec * alphaMs) / 1000;
  const batch = Math.max(1, expectedBatchSize(ratePerSec, cost, holdMs / 1000));
  const items = Math.ceil(Math.max(minItems, (16 / (1 - rho)) * batch));
  const warmup = Math.max(0.05, ((6 / (1 - rho)) * batch) / items);
  const r = simulate({
    policy,
    cost: { alphaMs, tau0Ms },
    arrivalsMs: poissonArrivals(ratePerSec, (items / ratePerSec) * 1000, seed),
    sloMs: Infinity,
    maxBatch: NO_CAP,
    objectiveMs: 1e9,
    warmupFraction: warmup,
  });
  assert.ok(r.maxBatchSeen < NO_CAP, 'the batch cap must never bind in the formula tests');
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Building blocks

test('virtual clock: due-time order, ties in the order set, cancel, timers set by timers', () => {
  const clock = new VirtualClock();
  const seen: string[] = [];
  clock.setTimer(() => seen.push(`b@${clock.now()}`), 5);
  clock.setTimer(() => seen.push(`a@${clock.now()}`), 2);
  clock.setTimer(() => seen.push(`c@${clock.now()}`), 5);
  const gone = clock.setTimer(() => seen.push('cancelled'), 3);
  clock.setTimer(() => {
    seen.push(`d@${clock.now()}`);
    clock.setTimer(() => seen.push(`e@${clock.now()}`), 0); // due now: runs within the same advance
  }, 4);
  gone.cancel();
  assert.equal(clock.pending, 4);
  clock.advanceTo(4.5);
  assert.deepEqual(seen, ['a@2', 'd@4', 'e@4']);
  assert.equal(clock.now(), 4.5);
  assert.equal(clock.nextDueMs(), 5);
  assert.equal(clock.runUntilIdle(), 2);
  assert.deepEqual(seen, ['a@2', 'd@4', 'e@4', 'b@5', 'c@5']);
  assert.equal(clock.now(), 5);
  clock.advanceTo(1); // time never goes back
  assert.equal(clock.now(), 5);
});

test('virtual clock: many cancelled timers are compacted away and the rest still run in order', () => {
  const clock = new VirtualClock();
  const ran: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const h = clock.setTimer(() => ran.push(i), 10 + (i % 7));
    if (i % 5 !== 0) h.cancel();
  }
  assert.equal(clock.pending, 1000);
  clock.runUntilIdle();
  assert.equal(ran.length, 1000);
  for (let i = 1; i < ran.length; i++) {
    const [a, b] = [ran[i - 1], ran[i]];
    assert.ok(10 + (a % 7) < 10 + (b % 7) || (a % 7 === b % 7 && a < b), `out of order: ${a} then ${b}`);
  }
});

test('arrivals: seeded, sorted, in range, with the expected count; the burst doubles the rate for 0.3 s', () => {
  assert.deepEqual(poissonArrivals(100, 10_000, 7), poissonArrivals(100, 10_000, 7));
  assert.notDeepEqual(poissonArrivals(100, 10_000, 7), poissonArrivals(100, 10_000, 8));
  const rand = mulberry32(1);
  for (let i = 0; i < 1000; i++) {
    const u = rand();
    assert.ok(u >= 0 && u < 1);
  }
  // 1000/s for 100 s: the count is Poisson(100000); 99.9% of counts lie within 3.3 s.d. (~1040) of it.
  const a = poissonArrivals(1000, 100_000, 11);
  assert.ok(Math.abs(a.length - 100_000) < 3.3 * Math.sqrt(100_000), `count ${a.length}`);
  assert.ok(a.every((t, i) => t >= 0 && t < 100_000 && (i === 0 || t >= a[i - 1])));
  // Seed 003's burst, averaged over seeds: 2000/s inside [5000, 5300), 1000/s elsewhere.
  let inside = 0;
  let before = 0;
  const seeds = 20;
  for (let s = 0; s < seeds; s++) {
    for (const t of burstArrivals(1000, 10_000, { atMs: 5000, lengthMs: 300, factor: 2 }, s)) {
      if (t >= 5000 && t < 5300) inside++;
      else if (t >= 4700 && t < 5000) before++;
    }
  }
  // Expected 600 per seed inside and 300 in the 300 ms before: each count within 3.3 s.d. of its mean.
  assert.ok(Math.abs(inside - 600 * seeds) < 3.3 * Math.sqrt(600 * seeds), `inside ${inside}`);
  assert.ok(Math.abs(before - 300 * seeds) < 3.3 * Math.sqrt(300 * seeds), `before ${before}`);
});

test('simulator: deterministic for a seed, and every item is served', () => {
  const opts = (seed: number): SimulationOptions => ({
    policy: sloPolicy,
    cost: { alphaMs: 0.2, tau0Ms: 20 },
    arrivalsMs: burstArrivals(1500, 4000, { atMs: 2000, lengthMs: 300, factor: 2 }, seed),
    sloMs: 100,
    maxBatch: 64,
    objectiveMs: 50,
    costSource: 'fitted',
    power: { busyWatts: 250, idleWatts: 50 },
    warmupFraction: 0.1,
  });
  const a = simulate(opts(3));
  const b = simulate(opts(3));
  assert.deepEqual(a, b);
  assert.ok(a.latenciesMs.every((l) => Number.isFinite(l) && l > 0));
  assert.ok(a.maxBatchSeen <= 64);
  assert.notDeepEqual(simulate(opts(4)).latenciesMs, a.latenciesMs);
});

test('simulator self-check: the none policy is an M/D/1 queue and matches Pollaczek-Khinchine', () => {
  // One item per batch, service D = alpha + tau0 = 2 ms. P-K mean sojourn: D + lambda*D^2 / (2*(1 - lambda*D)).
  const D = 2;
  for (const [i, load] of [0.5, 0.8].entries()) {
    const rate = (load / D) * 1000;
    const pk = D + ((rate / 1000) * D * D) / (2 * (1 - load));
    const items = load < 0.7 ? 20_000 : 60_000;
    const est = estimate(
      Array.from({ length: 20 }, (_, rep) => runPlain(noBatchingPolicy, 1, 1, rate, items, seedOf(900 + i, rep)).meanMs),
      2,
    );
    assert.ok(
      Math.abs(est.mean - pk) <= est.hw,
      `load ${load}: sim ${est.mean.toFixed(4)} +- ${est.hw.toFixed(4)} ms, P-K ${pk.toFixed(4)} ms`,
    );
  }
});

// ---------------------------------------------------------------------------------------------------------
// The formula against the simulator, over a grid of (alpha/tau0, rho, h).
//
// tau0 = 1 ms throughout and alpha = (alpha/tau0) ms: the bounds scale with tau0, so the grid is in units of
// tau0. The hold h is run with holdPolicy(h) (exactly the policy U_h describes); h = 0 is greedyPolicy.
// Each point: R = 20 replications of at least ceil(8000 / (1 - rho)) items (more where batches are large,
// see runPlain), each with its warm-up cut; the batch cap is never reached (checked), because the formula has
// none. Intervals: simultaneous 99% over the 75 points.
//
// Claims:
//   (1) sim mean <= U_h + hw at every point (the bound is an upper bound).
//   (2) greedy, rho >= 0.3: |U - sim|/sim <= 10%, read against the interval: the claim holds if some value in
//       [m - hw, m + hw] is within 10% of U.
//
// Documented exception to (2), a limitation of the formula, not of the sample: alpha = tau0 at rho = 0.3.
// There lambda*tau0 = 0.3, so most batches leave the queue empty and the lane idles; the bound's slower system
// charges each idle spell phantom batches of tau0 (here a whole item's service time) and makes arrivals wait
// out their residual, which a real greedy lane never does. Measured with 10 x 200k items per replication:
// sim 3.0165 +- 0.0066 ms (99%), U 3.4066 ms, U/sim = 1.129, i.e. 12.9% loose (alpha = 2*tau0: 11.8%;
// rho = 0.4: 8.9%; alpha = 0.3*tau0 or 3*tau0: 4.7% / 9.9%). The test pins it between 10% and 16% so a
// change in either the formula or the simulator shows up.

const RATIOS = [0.01, 0.1, 1, 10, 100];
const RHOS = [0.1, 0.3, 0.5, 0.7, 0.9];
const HOLDS = [0, 0.5, 2]; // in units of tau0
const REPS = 20;
const EXCEPTIONS = new Set(['1/0.3/0']);

interface GridRow {
  ratio: number;
  rho: number;
  h: number;
  sim: Estimate;
  bound: number;
  meanBatch: number;
  formulaBatch: number;
}
const grid: GridRow[] = [];

for (const [ri, ratio] of RATIOS.entries()) {
  test(`formula vs simulator: alpha/tau0 = ${ratio}, every rho and hold`, () => {
    const tau0Ms = 1;
    const alphaMs = ratio * tau0Ms;
    const problems: string[] = [];
    for (const [pi, rho] of RHOS.entries()) {
      const rate = (rho / alphaMs) * 1000;
      const items = Math.ceil(8000 / (1 - rho));
      for (const [hi, h] of HOLDS.entries()) {
        const holdMs = h * tau0Ms;
        const policy = holdMs === 0 ? greedyPolicy : holdPolicy(holdMs);
        const point = ri * 100 + pi * 10 + hi;
        let batchSum = 0;
        const means = Array.from({ length: REPS }, (_, rep) => {
          const r = runPlain(policy, alphaMs, tau0Ms, rate, items, seedOf(point, rep), holdMs);
          batchSum += r.measuredMeanBatch;
          return r.meanMs;
        });
        const sim = estimate(means, RATIOS.length * RHOS.length * HOLDS.length);
        const bound = 1000 * meanLatencyBoundWithHold(rate, { alpha: alphaMs / 1000, tau0: tau0Ms / 1000 }, holdMs / 1000);
        grid.push({
          ratio,
          rho,
          h,
          sim,
          bound,
          meanBatch: batchSum / REPS,
          formulaBatch: expectedBatchSize(rate, { alpha: alphaMs / 1000, tau0: tau0Ms / 1000 }, holdMs / 1000),
        });
        const where = `alpha/tau0 ${ratio}, rho ${rho}, h ${h}*tau0: sim ${sim.mean.toFixed(4)} +- ${sim.hw.toFixed(4)} ms, bound ${bound.toFixed(4)} ms`;
        if (sim.mean > bound + sim.hw) problems.push(`above the bound: ${where}`);
        if (h === 0 && rho >= 0.3) {
          const within = sim.mean + sim.hw >= bound / 1.1 && sim.mean - sim.hw <= bound / 0.9;
          if (EXCEPTIONS.has(`${ratio}/${rho}/${h}`)) {
            const loose = bound / sim.mean - 1;
            if (!(loose > 0.1 && loose < 0.16)) problems.push(`documented exception moved (${(100 * loose).toFixed(1)}% loose): ${where}`);
          } else if (!within) problems.push(`not within 10%: ${where}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });
}

test('grid table (SIM_TABLE=1 prints it)', () => {
  if (!process.env.SIM_TABLE) return;
  const lines = [
    '| alpha/tau0 | rho | h/tau0 | sim mean (ms, 99% hw) | U or U_h (ms) | sim/U | mean batch (sim) | E[B] (formula) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of grid) {
    lines.push(
      `| ${r.ratio} | ${r.rho} | ${r.h} | ${r.sim.mean.toFixed(4)} +- ${r.sim.hw.toFixed(4)} | ${r.bound.toFixed(4)} | ${(r.sim.mean / r.bound).toFixed(4)} | ${r.meanBatch.toFixed(2)} | ${r.formulaBatch.toFixed(2)} |`,
    );
  }
  console.log(lines.join('\n'));
});

test('simulator: on a deterministic linear device the fitted cost equals the true cost (same latencies)', () => {
  const arrivalsMs = burstArrivals(1500, 6000, { atMs: 3000, lengthMs: 300, factor: 2 }, 3);
  const base = { policy: sloPolicy, cost: { alphaMs: 0.2, tau0Ms: 20 }, arrivalsMs, sloMs: 100, maxBatch: 1024, objectiveMs: 50 };
  const run = (costSource: 'true' | 'fitted') => simulate({ ...base, costSource });
  const a = run('true');
  const b = run('fitted');
  assert.equal(a.batches, b.batches);
  a.latenciesMs.forEach((l, i) => assert.ok(Math.abs(l - b.latenciesMs[i]) < 1e-9, `item ${i}: ${l} vs ${b.latenciesMs[i]}`));
  // With no probe the fit starts empty: slo then dispatches greedily until two batch sizes have been seen.
  const cold = simulate({ ...base, costSource: 'fitted', probeSizes: [] });
  assert.equal(cold.items, a.items);
  assert.ok(cold.latenciesMs[1] < b.latenciesMs[1], `greedy before the fit: ${cold.latenciesMs[1]} < ${b.latenciesMs[1]} ms held`);
});

test('simulator: SLO attainment counts each item against its own SLO (two functions on one model)', () => {
  // Greedy, light load: every latency is at least tau0 + alpha = 5 ms. Odd items belong to a function whose
  // 1 ms SLO nothing can meet, even items to one with a 1 s SLO that everything meets.
  const arrivalsMs = poissonArrivals(20, 60_000, 5);
  const sloMs = arrivalsMs.map((_, i) => (i % 2 ? 1 : 1000));
  const r = simulate({ policy: greedyPolicy, cost: { alphaMs: 1, tau0Ms: 4 }, arrivalsMs, sloMs, maxBatch: 32, objectiveMs: 500 });
  assert.ok(r.latenciesMs.every((l) => l >= 5 && l < 1000));
  assert.equal(r.sloAttainment, Math.ceil(arrivalsMs.length / 2) / arrivalsMs.length);
});

// ---------------------------------------------------------------------------------------------------------
// Policies on the same arrivals.
//
// A GPU-like model: alpha = 0.2 ms per item, tau0 = 20 ms per batch (alpha << tau0, so batching pays), with a
// modelled power of 250 W busy and 50 W idle. Each function's SLO is 100 ms and the model's mean-latency
// objective is S = 50 ms (the runtime's default: half the tightest SLO); margin 2 ms (the runtime's default).
// The policies see the rate from a RateMeter fed with the arrivals, as in the runtime, and the true cost: the
// simulated device is deterministic and linear, so the runtime's online fit is exact from its warm-up probe
// on (the test 'fitted cost = true cost' below checks that both give the same latencies), and the true
// cost spares a Theil-Sen re-fit per batch.

const GPU = { alphaMs: 0.2, tau0Ms: 20 };
const GPU_COST = { alpha: GPU.alphaMs / 1000, tau0: GPU.tau0Ms / 1000 };
const POWER = { busyWatts: 250, idleWatts: 50 };
const SLO_MS = 100;
const OBJECTIVE_MS = 50;

function runGpu(policy: BatchPolicy, arrivalsMs: number[], warmupFraction: number): SimulationResult {
  return simulate({
    policy,
    cost: GPU,
    arrivalsMs,
    sloMs: SLO_MS,
    maxBatch: 1024,
    objectiveMs: OBJECTIVE_MS,
    marginMs: 2,
    power: POWER,
    costSource: 'true',
    warmupFraction,
  });
}

test('slo uses fewer joules per inference than greedy at low load, and its mean stays within the objective', () => {
  // rho = 0.15: 750 requests/s, lambda*tau0 = 15 (batching has something to gather). U = 35.5 ms, so the
  // formula's hold is h* = 18.9 ms and U_h = S = 50 ms. 10 replications of 30 s (about 22k items each); the
  // first 10% of items (3 s: the rate meter's 1 s time constant and the cost fit settle) are not measured.
  const rate = 750;
  const reps = 10;
  const slo: SimulationResult[] = [];
  const greedy: SimulationResult[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const arrivals = poissonArrivals(rate, 30_000, seedOf(500, rep));
    slo.push(runGpu(sloPolicy, arrivals, 0.1));
    greedy.push(runGpu(greedyPolicy, arrivals, 0.1));
  }
  const jSlo = estimate(slo.map((r) => r.joulesPerInference!));
  const jGreedy = estimate(greedy.map((r) => r.joulesPerInference!));
  const mean = estimate(slo.map((r) => r.meanMs));
  const figures =
    `J/inference slo ${jSlo.mean.toFixed(4)} +- ${jSlo.hw.toFixed(4)}, greedy ${jGreedy.mean.toFixed(4)} +- ${jGreedy.hw.toFixed(4)}; ` +
    `mean latency slo ${mean.mean.toFixed(2)} +- ${mean.hw.toFixed(2)} ms (objective ${OBJECTIVE_MS}), greedy ${estimate(greedy.map((r) => r.meanMs)).mean.toFixed(2)} ms ` +
    `(U ${(1000 * meanLatencyBound(rate, GPU_COST)).toFixed(2)}); mean batch slo ${estimate(slo.map((r) => r.meanBatch)).mean.toFixed(1)}, greedy ${estimate(greedy.map((r) => r.meanBatch)).mean.toFixed(1)}`;
  if (process.env.SIM_TABLE) console.log(figures);
  // Paired on the same arrivals: slo is cheaper in every replication, and by more than the error.
  slo.forEach((r, i) => assert.ok(r.joulesPerInference! < greedy[i].joulesPerInference!, `replication ${i}: ${figures}`));
  assert.ok(jSlo.mean + jSlo.hw < jGreedy.mean - jGreedy.hw, figures);
  assert.ok(mean.mean <= OBJECTIVE_MS + mean.hw, figures);
});

// Under seed 003's burst. Base rho = 0.3 (1500/s), doubled to rho = 0.6 for 0.3 s at t = 6 s of a 12 s run.
// This is the informative base load for this cost and SLO: below it nothing misses 100 ms under any policy
// (at rho = 0.15 and 0.2 every policy keeps 100%), above it U(base) > S, so h* = 0 and slo is greedy.
//
// fixed-delay, tuned for the base rate: preferred batch = the formula's expected batch at the base rate
// with the hold slo would use there, round(E[B](1500/s, h* = 6.0 ms)) = 56, so both aim at the same batch in
// steady state; max queue delay 10 ms = 10% of the SLO (Triton's tuning advice: start from no delay and
// allow a delay that is small against the latency budget).
//
// Measured (seeds 3..12 pooled; items arriving in the burst and the second after it, [6.0 s, 7.3 s)):
// with the first slo policy (rate from the 1 s meter only) slo lost: 99.11% within SLO against fixed-delay's
// 99.47% (greedy 99.66%). It spent the base load's slack on a 6 ms hold, and its meter had seen only a
// quarter of the rise when the 0.3 s burst ended, so it kept holding into the burst. The policy now takes the
// larger of the meter and the queue's own rate (items waiting over the oldest one's age) and aims a margin
// below the objective: slo 99.59%, fixed-delay 99.47%; whole run 99.93% / 99.91%. With the runtime's feedback
// terms fed in the simulator too (measured mean, late share; runtime/scheduler/feedback.ts): slo 99.50%,
// fixed-delay 99.47%; whole run 99.92% / 99.91%. A narrow win: the seed-003 burst is short.
// fixed-delay degenerates to greedy here (the oldest item has waited longer than 10 ms whenever the lane
// frees).
test('under the seed-003 burst, slo keeps higher SLO attainment than fixed-delay tuned for the base rate', () => {
  const rate = 1500;
  const atMs = 6000;
  const windowMs = 1300;
  const hStar = holdForObjective(rate, GPU_COST, OBJECTIVE_MS / 1000);
  const preferred = Math.round(expectedBatchSize(rate, GPU_COST, hStar));
  const fixed = fixedDelayPolicy({ maxQueueDelayMs: 0.1 * SLO_MS, preferredBatchSize: preferred });
  const tally = { slo: { ok: 0, all: 0, overall: 0 }, fixed: { ok: 0, all: 0, overall: 0 } };
  const seeds = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  for (const seed of seeds) {
    const arrivals = burstArrivals(rate, 12_000, { atMs, lengthMs: 300, factor: 2 }, seed);
    for (const [name, policy] of [
      ['slo', sloPolicy],
      ['fixed', fixed],
    ] as const) {
      const r = runGpu(policy, arrivals, 0.2);
      const t = tally[name];
      t.overall += r.sloAttainment / seeds.length;
      arrivals.forEach((a, i) => {
        if (a >= atMs && a < atMs + windowMs) {
          t.all++;
          if (r.latenciesMs[i] <= SLO_MS) t.ok++;
        }
      });
    }
  }
  const inBurst = (t: { ok: number; all: number }) => t.ok / t.all;
  const figures =
    `preferred batch ${preferred}, h* ${(1000 * hStar).toFixed(2)} ms; within SLO in [6.0 s, 7.3 s): ` +
    `slo ${(100 * inBurst(tally.slo)).toFixed(2)}%, fixed-delay ${(100 * inBurst(tally.fixed)).toFixed(2)}%; ` +
    `whole run: slo ${(100 * tally.slo.overall).toFixed(2)}%, fixed-delay ${(100 * tally.fixed.overall).toFixed(2)}%`;
  if (process.env.SIM_TABLE) console.log(figures);
  assert.ok(inBurst(tally.slo) > inBurst(tally.fixed), figures);
});
