import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BatchCost,
  type PowerModel,
  batchCapForMemory,
  batchTime,
  expectedBatchSize,
  holdForObjective,
  joulesPerInference,
  maxRateWithin,
  meanLatencyBound,
  meanLatencyBoundWithHold,
  sloFeasibility,
  utilization,
} from '../../runtime/scheduler/formula.ts';

// A spread of batch costs in seconds: tau0-heavy, alpha-heavy, the 128-2048-2048-10 MLP of hono.config.ts
// (about 0.6 ms at batch 1, 7.7 ms at 128), and a GPU-like one.
const costs: BatchCost[] = [
  { alpha: 0.001, tau0: 0.01 },
  { alpha: 0.004, tau0: 0.001 },
  { alpha: 0.0000559, tau0: 0.000544 },
  { alpha: 0.0002, tau0: 0.02 },
];
const rhos = [0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.97];

function close(actual: number, expected: number, rel: number, what: string): void {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected} (rel tol ${rel})`);
}

// ---------------------------------------------------------------------------------------------------------
// An independent calculation of the bound, with none of the closed-form algebra: the exact mean latency
// of the slower system (an empty queue still costs tau0), from the numerically computed stationary law of
// its batch-size chain B' ~ Poisson(lambda*C), C = alpha*B + tau0 + h.
//
// Renewal-reward over one cycle of length C: the requests that arrive during it (B' of them) wait in total
// lambda*C^2/2 until the next dispatch, then each waits that batch's time alpha*B' + tau0. So
//   mean latency = (lambda*E[C^2]/2 + alpha*E[B^2] + tau0*E[B]) / E[B].

function poissonPmf(mean: number, n: number): number[] {
  const out = new Array<number>(n + 1).fill(0);
  if (mean === 0) {
    out[0] = 1;
    return out;
  }
  let logP = -mean;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logP += Math.log(mean) - Math.log(k);
    out[k] = Math.exp(logP);
  }
  return out;
}

function chainMoments(lambda: number, cost: BatchCost, hold: number): { latency: number; meanBatch: number } {
  const { alpha, tau0 } = cost;
  const n = 400; // states 0..n; the parameters used below keep the tail far below 1e-15
  const rows = Array.from({ length: n + 1 }, (_, i) => poissonPmf(lambda * (alpha * i + tau0 + hold), n));
  let pi = new Array<number>(n + 1).fill(0);
  pi[0] = 1;
  for (let it = 0; it < 3000; it++) {
    const next = new Array<number>(n + 1).fill(0);
    for (let i = 0; i <= n; i++) {
      const p = pi[i];
      if (p < 1e-300) continue;
      const row = rows[i];
      for (let j = 0; j <= n; j++) next[j] += p * row[j];
    }
    const total = next.reduce((a, x) => a + x, 0);
    let diff = 0;
    for (let j = 0; j <= n; j++) {
      next[j] /= total;
      diff += Math.abs(next[j] - pi[j]);
    }
    pi = next;
    if (diff < 1e-15) break;
  }
  let eb = 0;
  let eb2 = 0;
  let ec2 = 0;
  for (let i = 0; i <= n; i++) {
    const c = alpha * i + tau0 + hold;
    eb += pi[i] * i;
    eb2 += pi[i] * i * i;
    ec2 += pi[i] * c * c;
  }
  return { latency: ((lambda * ec2) / 2 + alpha * eb2 + tau0 * eb) / eb, meanBatch: eb };
}

test('batchTime and utilization', () => {
  const cost = { alpha: 0.002, tau0: 0.005 };
  close(batchTime(cost, 0), 0.005, 1e-15, 'tau(0)');
  close(batchTime(cost, 10), 0.025, 1e-15, 'tau(10)');
  close(utilization(100, cost), 0.2, 1e-15, 'rho');
});

test('U(0) = 3*tau0/2 + alpha', () => {
  for (const cost of costs) {
    close(meanLatencyBound(0, cost), 1.5 * cost.tau0 + cost.alpha, 1e-15, `U(0) for ${JSON.stringify(cost)}`);
  }
});

test('U matches a hand-computed value', () => {
  // alpha = 1 ms, tau0 = 10 ms, lambda = 500/s: rho = 0.5,
  // U = 0.03/(2*0.5) + 0.001*2.5/(2*0.75) = 0.03 + 0.0016666...
  close(meanLatencyBound(500, { alpha: 0.001, tau0: 0.01 }), 0.03 + 0.0025 / 1.5, 1e-13, 'U');
});

test('U is increasing in lambda and infinite from rho = 1', () => {
  for (const cost of costs) {
    let prev = -Infinity;
    for (let rho = 0; rho < 0.999; rho += 0.01) {
      const u = meanLatencyBound(rho / cost.alpha, cost);
      assert.ok(u > prev, `U not increasing at rho ${rho} for ${JSON.stringify(cost)}`);
      prev = u;
    }
    assert.equal(meanLatencyBound(1 / cost.alpha, cost), Infinity);
    assert.equal(meanLatencyBound(2 / cost.alpha, cost), Infinity);
    assert.equal(meanLatencyBoundWithHold(1 / cost.alpha, cost, 0.01), Infinity);
    assert.equal(expectedBatchSize(1 / cost.alpha, cost), Infinity);
  }
});

test('U agrees with the stationary batch-size chain of the slower system (independent calculation)', () => {
  const points: Array<[BatchCost, number]> = [
    [{ alpha: 0.001, tau0: 0.01 }, 0.3],
    [{ alpha: 0.001, tau0: 0.01 }, 0.7],
    [{ alpha: 0.004, tau0: 0.001 }, 0.5],
    [{ alpha: 0.0002, tau0: 0.002 }, 0.85],
  ];
  for (const [cost, rho] of points) {
    const lambda = rho / cost.alpha;
    const exact = chainMoments(lambda, cost, 0).latency;
    close(meanLatencyBound(lambda, cost), exact, 1e-9, `U vs chain at rho ${rho}, ${JSON.stringify(cost)}`);
  }
});

test("U_h agrees with the chain with a hold, and mean batch with the chain's mean", () => {
  const points: Array<[BatchCost, number, number]> = [
    [{ alpha: 0.001, tau0: 0.01 }, 0.4, 0.005],
    [{ alpha: 0.004, tau0: 0.001 }, 0.6, 0.02],
  ];
  for (const [cost, rho, hold] of points) {
    const lambda = rho / cost.alpha;
    const chain = chainMoments(lambda, cost, hold);
    close(
      meanLatencyBoundWithHold(lambda, cost, hold),
      chain.latency,
      1e-9,
      `U_h vs chain at rho ${rho}, h ${hold}, ${JSON.stringify(cost)}`,
    );
    close(expectedBatchSize(lambda, cost, hold), chain.meanBatch, 1e-9, `E[B] vs chain at rho ${rho}, h ${hold}`);
  }
});

// The bounds against the real policies in virtual time: test/sim/simulator.test.ts.

test('U_h(lambda, 0) = U(lambda) and U_h increases with h', () => {
  for (const cost of costs) {
    for (const rho of rhos) {
      const lambda = rho / cost.alpha;
      assert.equal(meanLatencyBoundWithHold(lambda, cost, 0), meanLatencyBound(lambda, cost));
      let prev = meanLatencyBound(lambda, cost);
      for (const h of [1e-4, 1e-3, 5e-3, 0.02, 0.1]) {
        const uh = meanLatencyBoundWithHold(lambda, cost, h);
        assert.ok(uh > prev, `U_h not increasing in h at rho ${rho}, h ${h}`);
        prev = uh;
      }
    }
  }
});

test('expectedBatchSize = lambda*(tau0+h)/(1-rho)', () => {
  const cost = { alpha: 0.001, tau0: 0.01 };
  close(expectedBatchSize(500, cost), (500 * 0.01) / 0.5, 1e-14, 'E[B]');
  close(expectedBatchSize(500, cost, 0.004), (500 * 0.014) / 0.5, 1e-14, 'E[B] with hold');
  assert.equal(expectedBatchSize(0, cost), 0);
});

test('h* makes U_h(lambda, h*) = S when U < S, and is 0 otherwise', () => {
  for (const cost of costs) {
    for (const rho of rhos) {
      const lambda = rho / cost.alpha;
      const u = meanLatencyBound(lambda, cost);
      for (const factor of [1.01, 1.5, 3, 10]) {
        const s = u * factor;
        const h = holdForObjective(lambda, cost, s);
        assert.ok(h > 0, `h* should be positive when U < S (rho ${rho})`);
        close(meanLatencyBoundWithHold(lambda, cost, h), s, 1e-9, `U_h(h*) at rho ${rho}, S = ${factor}U`);
      }
      assert.equal(holdForObjective(lambda, cost, u), 0);
      assert.equal(holdForObjective(lambda, cost, u * 0.5), 0);
    }
    assert.equal(holdForObjective(1 / cost.alpha, cost, 10), 0);
  }
});

test('maxRateWithin solves U(lambda) = S', () => {
  for (const cost of costs) {
    const u0 = meanLatencyBound(0, cost);
    for (const factor of [1.0001, 1.1, 2, 5, 50, 1e6]) {
      const s = u0 * factor;
      const lmax = maxRateWithin(cost, s);
      assert.ok(lmax > 0 && lmax < 1 / cost.alpha, `lambda max ${lmax} out of (0, 1/alpha)`);
      const u = meanLatencyBound(lmax, cost);
      assert.ok(u <= s, `U(lambda max) = ${u} above S = ${s}`);
      close(u, s, 1e-9, `U(lambda max) for S = ${factor}*U(0)`);
      assert.ok(meanLatencyBound(lmax * (1 + 1e-6), cost) > s, `U just above lambda max should exceed S`);
    }
  }
});

test('maxRateWithin edge cases: infeasible, exactly U(0), alpha = 0', () => {
  const cost = { alpha: 0.001, tau0: 0.02 };
  assert.equal(maxRateWithin(cost, 0.02), 0); // U(0) = 31 ms > 20 ms
  assert.equal(maxRateWithin(cost, meanLatencyBound(0, cost)), 0);
  assert.equal(maxRateWithin({ alpha: 0, tau0: 0.01 }, 0.015), Infinity);
  assert.equal(maxRateWithin({ alpha: 0, tau0: 0.01 }, 0.0149), 0);
  assert.equal(maxRateWithin({ alpha: 0, tau0: 0 }, 0), Infinity);
  // alpha = 0: rho = 0 at every rate, so U is flat at 3*tau0/2
  assert.equal(meanLatencyBound(1e9, { alpha: 0, tau0: 0.01 }), 0.015);
});

test('sloFeasibility says why an SLO cannot be met', () => {
  const cost = { alpha: 0.001, tau0: 0.02 };
  const bad = sloFeasibility(cost, 0.02);
  assert.equal(bad.feasible, false);
  close(bad.zeroLoadBound, 0.031, 1e-15, 'zero-load bound');
  assert.ok(bad.reason !== undefined);
  assert.match(bad.reason, /20 ms/);
  assert.match(bad.reason, /31 ms/);
  assert.equal(maxRateWithin(cost, 0.02), 0);

  const ok = sloFeasibility(cost, 0.05);
  assert.equal(ok.feasible, true);
  assert.equal(ok.reason, undefined);
  assert.ok(maxRateWithin(cost, 0.05) > 0);
});

test('joules per inference falls as the hold grows (busy > idle)', () => {
  const power: PowerModel = { busyWatts: 70, idleWatts: 15 };
  for (const cost of costs) {
    for (const rho of rhos.filter((r) => r > 0)) {
      const lambda = rho / cost.alpha;
      let prev = joulesPerInference(lambda, cost, power, 0);
      const first = prev;
      for (const h of [1e-4, 1e-3, 5e-3, 0.02, 0.1, 1]) {
        const j = joulesPerInference(lambda, cost, power, h);
        assert.ok(j <= prev * (1 + 1e-12), `J rose with hold at rho ${rho}, h ${h}: ${prev} -> ${j}`);
        prev = j;
      }
      assert.ok(prev < first, `a long hold should save energy at rho ${rho} for ${JSON.stringify(cost)}`);
    }
  }
});

test('joules per inference never increases with load (seed 004)', () => {
  const powers: PowerModel[] = [
    { busyWatts: 70, idleWatts: 15 },
    { busyWatts: 300, idleWatts: 50 },
    { busyWatts: 10, idleWatts: 10 },
    { busyWatts: 5, idleWatts: 0 },
  ];
  const allCosts = [...costs, { alpha: 0, tau0: 0.01 }];
  for (const cost of allCosts) {
    const top = cost.alpha > 0 ? 1.5 / cost.alpha : 1e4;
    for (const power of powers) {
      for (const hold of [0, 0.002]) {
        let prev = Infinity;
        for (let k = 1; k <= 400; k++) {
          const lambda = (top * k) / 400;
          const j = joulesPerInference(lambda, cost, power, hold);
          assert.ok(Number.isFinite(j) && j >= 0, `J not a finite non-negative number: ${j}`);
          assert.ok(j <= prev * (1 + 1e-12), `J rose with load at lambda ${lambda}: ${prev} -> ${j}`);
          prev = j;
        }
      }
    }
  }
});

test('joules per inference: hand-computed value, zero load, saturation', () => {
  const cost = { alpha: 0.001, tau0: 0.01 };
  const power = { busyWatts: 70, idleWatts: 15 };
  // lambda = 200: rho = 0.2, B = 200*0.01/0.8 = 2.5, f = 200*(0.001 + 0.01/2.5) = 1.0 -> J = 70/200
  close(joulesPerInference(200, cost, power), 70 / 200, 1e-12, 'J at rho 0.2');
  // same with a 5 ms hold: B = 200*0.015/0.8 = 3.75, f = 200*(0.001 + 0.01/3.75) = 0.7333...
  const f = 200 * (0.001 + 0.01 / 3.75);
  close(joulesPerInference(200, cost, power, 0.005), (70 * f + 15 * (1 - f)) / 200, 1e-12, 'J with hold');
  // lambda = 50: B = 50*0.01/0.95 = 0.526 -> 1, f = 50*0.011 = 0.55, J = (70*0.55 + 15*0.45)/50
  close(joulesPerInference(50, cost, power), (70 * 0.55 + 15 * 0.45) / 50, 1e-12, 'J at light load');
  close(joulesPerInference(0, cost, power), 70 * 0.011, 1e-15, 'J at zero load');
  close(joulesPerInference(1000, cost, power), 70 * 0.001, 1e-15, 'J at rho = 1');
  close(joulesPerInference(5000, cost, power), 70 * 0.001, 1e-15, 'J beyond rho = 1');
});

test('batchCapForMemory', () => {
  assert.equal(batchCapForMemory(64, undefined, 1000), 64);
  assert.equal(batchCapForMemory(64, 10_000, 1000), 10);
  assert.equal(batchCapForMemory(64, 10_999, 1000), 10);
  assert.equal(batchCapForMemory(8, 1_000_000, 1000), 8);
  assert.equal(batchCapForMemory(64, 500, 1000), 1);
  assert.equal(batchCapForMemory(64, 0, 1000), 1);
  assert.equal(batchCapForMemory(Infinity, 4096, 1024), 4);
  assert.throws(() => batchCapForMemory(0, 100, 1), {
    name: 'RangeError',
    message: 'maxBatch must be a whole number >= 1 or Infinity, got 0',
  });
  assert.throws(() => batchCapForMemory(2.5, 100, 1), /maxBatch/);
  assert.throws(() => batchCapForMemory(4, -1, 1), {
    name: 'RangeError',
    message: 'memoryBudgetBytes must be a number >= 0 or undefined, got -1',
  });
  assert.throws(() => batchCapForMemory(4, 100, 0), {
    name: 'RangeError',
    message: 'bytesPerItem must be a finite number > 0, got 0',
  });
});

test('bad arguments throw RangeErrors that name the argument, the expectation and the value', () => {
  const cost = { alpha: 0.001, tau0: 0.01 };
  const power = { busyWatts: 70, idleWatts: 15 };
  const cases: Array<[() => unknown, string]> = [
    [() => meanLatencyBound(1, { alpha: -1, tau0: 0.01 }), 'alpha must be a finite number >= 0, got -1'],
    [() => meanLatencyBound(1, { alpha: 0.001, tau0: NaN }), 'tau0 must be a finite number >= 0, got NaN'],
    [() => meanLatencyBound(-5, cost), 'lambda must be a finite number >= 0, got -5'],
    [() => utilization(NaN, cost), 'lambda must be a finite number >= 0, got NaN'],
    [() => utilization(Infinity, cost), 'lambda must be a finite number >= 0, got Infinity'],
    [() => batchTime(cost, -1), 'b must be a finite number >= 0, got -1'],
    [() => meanLatencyBoundWithHold(1, cost, -0.5), 'hold must be a finite number >= 0, got -0.5'],
    [() => expectedBatchSize(1, cost, NaN), 'hold must be a finite number >= 0, got NaN'],
    [() => holdForObjective(1, cost, -0.01), 'objective must be a finite number >= 0, got -0.01'],
    [() => maxRateWithin(cost, NaN), 'objective must be a finite number >= 0, got NaN'],
    [() => sloFeasibility(cost, -1), 'slo must be a finite number >= 0, got -1'],
    [() => joulesPerInference(1, cost, { busyWatts: -70, idleWatts: 15 }), 'busyWatts must be a finite number >= 0, got -70'],
    [() => joulesPerInference(1, cost, power, -1), 'hold must be a finite number >= 0, got -1'],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, { name: 'RangeError', message });
  }
});
