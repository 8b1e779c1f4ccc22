/**
 * The host stage in the scheduler's model: the formula's extension (formula.ts), and the simulator driving
 * the runtime's own ModelScheduler with an event loop in series with the device, under overload.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { poissonArrivals } from '../../runtime/scheduler/arrivals.ts';
import {
  hostSojourn,
  maxRateWithin,
  maxRateWithinPath,
  pathLatencyBound,
  meanLatencyBoundWithHold,
  attributedJoulesPerInference,
} from '../../runtime/scheduler/formula.ts';
import { greedyPolicy, sloPolicy } from '../../runtime/scheduler/policies/index.ts';
import { simulate, type SimulationResult } from '../../runtime/scheduler/simulator.ts';
import type { BatchPolicy } from '../../runtime/scheduler/types.ts';

// The MLP on this machine: alpha 0.1 ms per item, tau0 1.1 ms per batch (the bench's ceiling fit), SLO 50 ms,
// objective 25 ms; the event loop costs 0.2 ms per served call (0.15 before its batch, 0.05 after).
const MLP = { alphaMs: 0.1, tau0Ms: 1.1 };
const SERVE = { preMs: 0.15, postMs: 0.05 };

function run(
  policy: BatchPolicy,
  rate: number,
  opts: { admission: boolean; shedMs: number; seed?: number; durationMs?: number },
): SimulationResult {
  return simulate({
    policy,
    cost: MLP,
    arrivalsMs: poissonArrivals(rate, opts.durationMs ?? 4000, opts.seed ?? 1),
    sloMs: 50,
    maxBatch: 128,
    objectiveMs: 25,
    host: { ...SERVE, shedMs: opts.shedMs },
    admission: opts.admission,
    warmupFraction: 0.1,
    power: { busyWatts: 65, idleWatts: 10 },
  });
}

/** The knee: the highest rate on a 250/s grid whose attainment stays at or above 95%. */
function capacity(policy: BatchPolicy, shedMs: number): { rate: number; goodput: number } {
  let best = { rate: 0, goodput: 0 };
  for (let rate = 500; rate <= 10000; rate += 250) {
    const r = run(policy, rate, { admission: true, shedMs });
    if (r.sloAttainment < 0.95) break;
    best = { rate, goodput: r.goodputPerSec };
  }
  return best;
}

test('formula: the host stage adds perCall/(1 - rho_h) and limits the max rate as the device does', () => {
  const cost = { alpha: 0.0001, tau0: 0.0011 };
  assert.equal(hostSojourn({ perCall: 0.0002, rate: 0 }), 0.0002);
  assert.ok(Math.abs(hostSojourn({ perCall: 0.0002, rate: 2500 }) - 0.0004) < 1e-12, 'rho_h = 0.5 doubles it');
  assert.equal(hostSojourn({ perCall: 0.0002, rate: 5000 }), Infinity);
  const p = pathLatencyBound(1000, cost, 0.002, { perCall: 0.0002, rate: 1000 });
  assert.ok(Math.abs(p - meanLatencyBoundWithHold(1000, cost, 0.002) - 0.0002 / 0.8) < 1e-12);
  // Device alone: ~9,700/s within 25 ms. With a 0.2 ms loop per call the loop saturates at 5,000/s first.
  const device = maxRateWithin(cost, 0.025);
  const path = maxRateWithinPath(cost, 0.025, { perCall: 0.0002, otherRate: 0 });
  assert.ok(device > 9000 && path < 5000 && path > 4500, `device ${device.toFixed(0)}/s, path ${path.toFixed(0)}/s`);
  assert.ok(pathLatencyBound(path, cost, 0, { perCall: 0.0002, rate: path }) <= 0.025 + 1e-9);
  // Other models' calls on the same loop leave this one less.
  assert.ok(maxRateWithinPath(cost, 0.025, { perCall: 0.0002, otherRate: 2000 }) < path - 1500);
  assert.equal(maxRateWithinPath(cost, 0.0001, { perCall: 0.0002, otherRate: 0 }), 0, 'not even one call fits');
});

test('formula: attributed joules stay finite and plausible at any rate, and fall as batches grow', () => {
  const cost = { alpha: 0.0001, tau0: 0.0011 };
  const power = { busyWatts: 65, idleWatts: 10 };
  const lone = attributedJoulesPerInference(1e-9, cost, power);
  assert.ok(Math.abs(lone - 65 * 0.0012) < 1e-9, `one call alone costs its batch: ${lone}`);
  assert.equal(attributedJoulesPerInference(0, cost, power), lone);
  assert.ok(attributedJoulesPerInference(5000, cost, power) < lone / 3);
});

test('simulator, overload: with admission goodput plateaus at 1.5x, 2x and 3x capacity; without it collapses', (t) => {
  // A shed costs the loop 5% of a served call here. The plateau is what the loop allows: each shed takes
  // loop time from served calls, so at k x C goodput is at most (1 - kC*shed) / (serve - shed), about 0.91 C
  // at 3C with these costs. (With sheds at 10% of a served call the same bound is about 0.79 C.)
  const shedMs = 0.01;
  for (const policy of [greedyPolicy, sloPolicy]) {
    const c = capacity(policy, shedMs);
    assert.ok(c.rate >= 4000, `${policy.name}: capacity ${c.rate}/s`);
    for (const k of [1.5, 2, 3]) {
      const r = run(policy, k * c.rate, { admission: true, shedMs });
      const loopLimit = (1000 - k * c.rate * shedMs) / (SERVE.preMs + SERVE.postMs - shedMs);
      const figures = `${policy.name} at ${k}x${c.rate}/s: goodput ${r.goodputPerSec.toFixed(0)}/s vs ${c.goodput.toFixed(0)}/s at capacity (loop limit ${loopLimit.toFixed(0)}/s), shed ${r.shed}, p99 ${r.p99Ms.toFixed(1)} ms`;
      t.diagnostic(`${figures}; ratio ${(r.goodputPerSec / c.goodput).toFixed(2)}`);
      assert.ok(r.goodputPerSec >= 0.8 * c.goodput, figures);
      assert.ok(r.goodputPerSec >= 0.9 * Math.min(c.goodput, loopLimit), figures);
      assert.ok(r.p99Ms <= 50, `served calls stay within the SLO: ${figures}`);
    }
    const without = run(policy, 1.5 * c.rate, { admission: false, shedMs });
    t.diagnostic(`${policy.name} without admission at 1.5x${c.rate}/s: goodput ${without.goodputPerSec.toFixed(0)}/s`);
    assert.ok(without.goodputPerSec < 0.2 * c.goodput, `${policy.name} without admission at 1.5x: ${without.goodputPerSec.toFixed(0)}/s`);
  }
});

test('simulator: slo keeps as many calls within the SLO as greedy from rho 0.2 to 0.9, over many seeds', (t) => {
  // With the host stage and admission as the runtime runs them; the hold spends slack on energy only while
  // the tail stays inside the SLO.
  for (const rho of [0.2, 0.4, 0.6, 0.8, 0.9]) {
    let slo = 0;
    let greedy = 0;
    let jSlo = 0;
    let jGreedy = 0;
    const rate = (rho * 1000) / 0.2; // rho of the loop, the stage that saturates first here
    for (let seed = 1; seed <= 6; seed++) {
      const a = run(sloPolicy, rate, { admission: true, shedMs: 0.02, seed, durationMs: 3000 });
      const b = run(greedyPolicy, rate, { admission: true, shedMs: 0.02, seed, durationMs: 3000 });
      slo += a.sloAttainment;
      greedy += b.sloAttainment;
      jSlo += a.joulesPerInference!;
      jGreedy += b.joulesPerInference!;
    }
    t.diagnostic(
      `rho ${rho}: attainment slo ${((100 * slo) / 6).toFixed(2)}% greedy ${((100 * greedy) / 6).toFixed(2)}%, J/inf slo ${(jSlo / 6).toFixed(4)} greedy ${(jGreedy / 6).toFixed(4)}`,
    );
    assert.ok(
      slo / 6 >= greedy / 6 - 0.005,
      `rho ${rho}: slo ${((100 * slo) / 6).toFixed(2)}% vs greedy ${((100 * greedy) / 6).toFixed(2)}%`,
    );
    if (rho === 0.2)
      assert.ok(jSlo <= 0.6 * jGreedy, `energy at rho 0.2: slo ${(jSlo / 6).toFixed(4)} J vs greedy ${(jGreedy / 6).toFixed(4)} J`);
  }
});
