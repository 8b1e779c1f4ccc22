/**
 * /metrics on a real runtime: every call is counted, 404s and bodies that are not JSON included, and
 * durations are exported in seconds under Prometheus's naming conventions.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { call, startRuntime } from '../helpers/serve.ts';

mkdirSync('test/tmp', { recursive: true });
const dir = path.resolve(mkdtempSync(path.join('test/tmp', 'metrics-')));
mkdirSync(path.join(dir, 'functions'));
writeFileSync(
  path.join(dir, 'functions', 'tiny.ts'),
  `import { z } from 'zod';
export default {
  model: 'tiny', slo: '1s', input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ n: output.data.length }),
  example: { x: 1 },
};`,
);

let s: Serving;
/** The Server-Timing total (ms) of the one call answered 200. */
let okTotalMs = NaN;
before(async () => {
  s = await startRuntime({
    functionsDir: path.join(dir, 'functions'),
    dataDir: path.join(dir, 'data'),
    models: { tiny: { file: path.resolve('models/mlp-small.onnx') } },
  });
});
after(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The value of one sample line of the exposition, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

test('every call is counted: ok, schema failures, bodies that are not JSON, unknown functions', async () => {
  const ok = await call(s.url, 'tiny', { x: 2 });
  okTotalMs = Number(/total;dur=([\d.]+)/.exec(ok.headers.get('server-timing') ?? '')?.[1]);
  const statuses = [
    ok.status,
    (await call(s.url, 'tiny', { x: 'two' })).status,
    (await call(s.url, 'tiny', '{"x": 2')).status,
    (await call(s.url, 'no-such-function', { x: 2 })).status,
  ];
  assert.deepEqual(statuses, [200, 400, 400, 404]);
  const text = await (await fetch(`${s.url}/metrics`)).text();
  assert.equal(sample(text, 'edgebatch_requests_total{function="tiny",model="tiny",outcome="ok"}'), 1);
  assert.equal(
    sample(text, 'edgebatch_requests_total{function="tiny",model="tiny",outcome="bad_input"}'),
    2,
    'the schema failure and the bad JSON',
  );
  assert.equal(sample(text, 'edgebatch_requests_unknown_function_total'), 1);
});

test('durations are in seconds, named _seconds, with Triton-like names for request, queue and compute', async () => {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const names = [...new Set([...text.matchAll(/^# TYPE (edgebatch_\w+) /gm)].map((m) => m[1]))];
  assert.deepEqual(
    names.filter((n) => /_ms$|_us$/.test(n)),
    [],
    'no metric in ms or us',
  );
  for (const n of [
    'edgebatch_request_duration_seconds',
    'edgebatch_queue_duration_seconds',
    'edgebatch_compute_infer_duration_seconds',
    'edgebatch_event_loop_lag_seconds',
  ]) {
    assert.ok(names.includes(n), `${n} is exported`);
  }
  // The one call answered 200: its duration in seconds is its Server-Timing total (ms) / 1000, give or
  // take the edge's own share; a histogram still in ms would be 1000 times off.
  const count = sample(text, 'edgebatch_request_duration_seconds_count{function="tiny",model="tiny"}');
  const sum = sample(text, 'edgebatch_request_duration_seconds_sum{function="tiny",model="tiny"}');
  assert.equal(count, 1);
  const ratio = (1000 * sum) / okTotalMs;
  assert.ok(ratio > 0.3 && ratio < 3, `${sum} s against a Server-Timing total of ${okTotalMs} ms`);
  assert.match(text, /edgebatch_request_duration_seconds_bucket\{le="0\.05",function="tiny",model="tiny"\}/);
});
