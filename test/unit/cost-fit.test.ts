import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../runtime/scheduler/arrivals.ts';
import { CostFitter, fitTheilSen, maxPairs, refitEvery } from '../../runtime/scheduler/cost-fit.ts';

test('Theil-Sen recovers tau(b) = alpha*b + tau0 and shrugs off a few slow outliers', () => {
  const b: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < 100; i++) {
    const size = 1 + (i % 16);
    b.push(size);
    ms.push(0.5 * size + 3 + (i % 10 === 0 ? 40 : 0)); // every tenth batch hit a 40 ms pause
  }
  const f = fitTheilSen(b, ms)!;
  assert.ok(Math.abs(f.alphaMs - 0.5) < 1e-9, `alpha ${f.alphaMs}`);
  assert.ok(Math.abs(f.tau0Ms - 3) < 1e-9, `tau0 ${f.tau0Ms}`);
  assert.equal(f.samples, 100);
});

test('Theil-Sen gives exactly the medians of a plain comparator sort, at every window length and stride', () => {
  // The fit sorts typed arrays for speed; this reference is the textbook definition, written the slow way.
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const rand = mulberry32(9);
  for (const n of [2, 3, 7, 40, 212]) {
    const x = Array.from({ length: n }, (_, i) => (i < 2 ? i + 1 : 1 + Math.floor(rand() * 16)));
    // A slope of 7 spreads slopes, intercepts and residuals across 10 and 100, where a sort by text order
    // (an array sorted without a comparator) disagrees with numeric order.
    const y = x.map((b) => 7 * b + 1 + (rand() < 0.1 ? 30 * rand() : 3 * rand() - 1.5));
    const stride = Math.max(1, Math.ceil((n * (n - 1)) / 2 / maxPairs));
    const slopes: number[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j += stride) if (x[i] !== x[j]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
    const alpha = Math.max(0, median(slopes));
    const tau0 = Math.max(0, median(y.map((yi, i) => yi - alpha * x[i])));
    const f = fitTheilSen(x, y)!;
    assert.equal(f.alphaMs, alpha, `alpha, n ${n}`);
    assert.equal(f.tau0Ms, tau0, `tau0, n ${n}`);
    assert.equal(f.relativeError, median(y.map((yi, i) => Math.abs(yi - (alpha * x[i] + tau0)) / Math.max(yi, 1e-6))), `error, n ${n}`);
  }
});

test('no fit until two batch sizes were seen; slopes and intercepts are never negative', () => {
  assert.equal(fitTheilSen([4, 4, 4], [1, 2, 3]), undefined);
  const f = fitTheilSen([1, 2, 3], [5, 4, 3])!;
  assert.equal(f.alphaMs, 0);
  assert.ok(f.tau0Ms >= 0);
  // A steep slope whose line crosses below 0 at b = 0: the intercept is clamped to 0 (unclamped, -1).
  assert.equal(fitTheilSen([1, 2, 3], [1, 3, 5])!.tau0Ms, 0);
});

test('CostFitter keeps a sliding window and refits only every few batches once it has a fit', () => {
  const fit = new CostFitter(50);
  fit.add(1, 2);
  assert.equal(fit.get(), undefined);
  fit.add(8, 9);
  const first = fit.get()!;
  assert.ok(Math.abs(first.alphaMs - 1) < 1e-9);
  for (let i = 0; i < refitEvery - 1; i++) fit.add(4, 100); // the load changed
  assert.deepEqual(fit.get(), first, 'not refitted yet');
  fit.add(4, 100);
  assert.notDeepEqual(fit.get(), first, 'refitted after refitEvery batches');
  for (let i = 0; i < 200; i++) fit.add(1 + (i % 4), 2 * (1 + (i % 4)) + 1);
  const late = fit.get()!;
  assert.equal(late.samples, 50, 'only the window counts');
  assert.ok(Math.abs(late.alphaMs - 2) < 1e-9 && Math.abs(late.tau0Ms - 1) < 1e-9);
  assert.ok(Math.abs(fit.predict(10)! - 21) < 1e-9);
});

test('a window of equal-size batches does not drive alpha to 0: the probe anchors keep the slope', () => {
  const fit = new CostFitter(200);
  for (const b of [1, 8, 1, 8, 1, 8]) fit.anchor(b, 0.1 * b + 1.1);
  // Steady load: every batch has 40 items, with 10% noise.
  for (let i = 0; i < 200; i++) fit.add(40, (0.1 * 40 + 1.1) * (1 + 0.1 * Math.sin(i)));
  const f = fit.get()!;
  assert.ok(f.alphaMs > 0.08 && f.alphaMs < 0.12, `alpha ${f.alphaMs}`);
  assert.ok(f.tau0Ms > 0.8 && f.tau0Ms < 1.4, `tau0 ${f.tau0Ms}`);
  assert.equal(f.quality, 'good');
  // Without the anchors the same window has no slope at all.
  const bare = new CostFitter(200);
  for (let i = 0; i < 200; i++) bare.add(40, 5.1);
  assert.equal(bare.get(), undefined);
});

test('a window whose small batches ran slower than the large ones of the probe keeps a slope', () => {
  const fit = new CostFitter(50);
  for (const b of [1, 8, 1, 8, 1, 8]) fit.anchor(b, 0.1 * b + 1.1);
  const probe = fit.get()!;
  assert.ok(probe.alphaMs > 0.09, `probe alpha ${probe.alphaMs}`);
  // A loaded machine: 20 single calls at 3 ms, slower than the probe's batches of 8 (1.9 ms). Every slope
  // between them is negative, so Theil-Sen alone fits alpha 0 (as CI saw once).
  for (let i = 0; i < 20; i++) fit.add(1, 3 + 0.01 * (i % 3));
  const alone = fitTheilSen(
    [1, 8, 1, 8, 1, 8, ...Array(20).fill(1)],
    [1.2, 1.9, 1.2, 1.9, 1.2, 1.9, ...Array.from({ length: 20 }, (_, i) => 3 + 0.01 * (i % 3))],
  )!;
  assert.equal(alone.alphaMs, 0, 'the plain fit loses its slope');
  const f = fit.get()!;
  assert.ok(f.alphaMs > 0, `alpha ${f.alphaMs}`);
  // The probe's shape at the recent level: tau(1) near the recent 3 ms.
  assert.ok(Math.abs(fit.predict(1)! - 3) < 0.1, `tau(1) ${fit.predict(1)}`);
  assert.match(f.reason!, /lost its slope \(alpha 0\); the last good line, scaled to recent batches/);
});

test('a fit that misses its own batches is not acted on: the last good fit stays in force, flagged', () => {
  const fit = new CostFitter(50);
  for (const b of [1, 8, 1, 8]) fit.anchor(b, 0.1 * b + 1.1);
  const good = fit.get()!;
  assert.equal(good.quality, 'good');
  // Batch times scatter wildly (a second process hammering the core): half of them take 20x longer.
  for (let i = 0; i < 48; i++) fit.add(2 + (i % 30), i % 2 ? 60 : 0.5);
  const f = fit.get()!;
  assert.equal(f.quality, 'fallback');
  assert.match(f.reason!, /misses its own batches by \d+%/);
  assert.equal(f.alphaMs, good.alphaMs);
  assert.equal(f.tau0Ms, good.tau0Ms);
  assert.ok(f.relativeError > 0.35);
  assert.equal(fit.predict(10), good.alphaMs * 10 + good.tau0Ms);
});
