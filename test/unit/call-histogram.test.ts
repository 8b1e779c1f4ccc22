/**
 * The per-call histogram (runtime/metrics/call-histogram.ts) against prom-client's own Histogram: the same
 * observations must give the same /metrics text, so that a scraper cannot tell them apart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { CallHistogram } from '../../runtime/metrics/call-histogram.ts';

const buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 1];

/** A deterministic spread of values over and between the bounds, the bounds themselves included. */
function values(n: number, seed: number): number[] {
  let x = seed;
  const out = [0, 0.001, 0.05, 1, 2.5];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push((x / 2147483648) ** 3 * 2);
  }
  return out;
}

test('the exposition is the same as prom-client Histogram for the same observations, per label set', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: 'x_duration_seconds', help: 'Some duration.', labelNames: ['function', 'model'] as const, buckets };
  const mine = new CallHistogram({ ...config, registers: [ours] });
  const reference = new Histogram({ ...config, labelNames: [...config.labelNames], registers: [theirs] });
  for (const [fn, seed] of [
    ['a', 1],
    ['b "quoted"', 2],
  ] as const) {
    const labels = { function: fn, model: 'm' };
    const child = mine.labels(labels);
    for (const v of values(500, seed)) {
      child.observe(v);
      reference.observe(labels, v);
    }
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  // get() as the dashboard reads it; prom-client adds `exemplar: null` to each bucket, which nothing here reads.
  const { values: refValues, ...refRest } = await reference.get();
  assert.deepEqual(await mine.get(), {
    ...refRest,
    values: refValues.map(({ exemplar: _, ...v }: (typeof refValues)[number] & { exemplar?: unknown }) => v),
  });
});

test('a child is made once per label set and stays valid across a reset; a value that is not finite is not counted', async () => {
  const reg = new Registry();
  const h = new CallHistogram({ name: 'y_seconds', help: 'y', labelNames: ['model'], buckets, registers: [reg] });
  const child = h.labels({ model: 'm' });
  assert.equal(h.labels({ model: 'm' }), child);
  child.observe(0.002);
  child.observe(Number.NaN);
  child.observe(Number.POSITIVE_INFINITY);
  assert.equal(child.count, 1);
  reg.resetMetrics();
  child.observe(0.5);
  const text = await reg.metrics();
  assert.match(text, /y_seconds_count\{model="m"\} 1\n/);
  assert.match(text, /y_seconds_bucket\{le="0\.1",model="m"\} 0\n/);
  assert.match(text, /y_seconds_bucket\{le="1",model="m"\} 1\n/);
});
