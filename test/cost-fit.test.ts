import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CostFitter, fitTheilSen, refitEvery } from '../runtime/scheduler/cost-fit.ts';

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

test('no fit until two batch sizes were seen; slopes and intercepts are never negative', () => {
  assert.equal(fitTheilSen([4, 4, 4], [1, 2, 3]), undefined);
  const f = fitTheilSen([1, 2, 3], [5, 4, 3])!;
  assert.equal(f.alphaMs, 0);
  assert.ok(f.tau0Ms >= 0);
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
