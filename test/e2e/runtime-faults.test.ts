/**
 * Failure paths on a real runtime: handler files that do not load, a model run that fails, wrong shapes,
 * post() throwing, models evicted from the cache, and a device whose execution provider is missing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { writeLookupModel } from '../helpers/fault-model.ts';
import { call, startRuntime } from '../helpers/serve.ts';

// Inside the repo so that handler files resolve `zod` from node_modules like real ones do.
mkdirSync('test/tmp', { recursive: true });
const dir = mkdtempSync(path.join('test/tmp', 'faults-'));
const fnDir = path.join(dir, 'functions');
mkdirSync(fnDir);
const lookupFile = path.resolve(dir, 'lookup.onnx');
writeLookupModel(lookupFile);

const lookupHandler = (pre: string, post = '({ output }) => ({ values: Array.from(output.data as Float32Array) })') => `
import { z } from 'zod';
export default {
  model: 'lookup',
  slo: '2s',
  input: z.object({ index: z.number().int() }),
  pre: ${pre},
  post: ${post},
  example: { index: 0 },
};`;
/** An item for index 0 (the example), and for any other index the item that `other` gives. */
const exampleFine = (other: string) => `({ index }) => (index === 0 ? { data: BigInt64Array.of(0n), dims: [] } : ${other})`;
const files: Record<string, string> = {
  'lookup.ts': lookupHandler('({ index }) => ({ data: BigInt64Array.of(BigInt(index)), dims: [] })'),
  // The example passes the checks at load; other inputs give a wrong shape or type at call time.
  'bad-shape.ts': lookupHandler(exampleFine('{ data: BigInt64Array.of(BigInt(index), 0n), dims: [2] }')),
  'wrong-type.ts': lookupHandler(exampleFine('{ data: Float32Array.of(index), dims: [] }')),
  // Their examples themselves do not fit the model: refused at load, as a deploy or a save in dev is.
  'example-bad-shape.ts': lookupHandler('({ index }) => ({ data: BigInt64Array.of(BigInt(index), 0n), dims: [2] })'),
  'example-fails-schema.ts': lookupHandler('({ index }) => ({ data: BigInt64Array.of(BigInt(index)), dims: [] })').replace(
    'example: { index: 0 }',
    "example: { index: 'zero' }",
  ),
  'post-throws.ts': lookupHandler(
    '({ index }) => ({ data: BigInt64Array.of(BigInt(index)), dims: [] })',
    '() => { throw new Error("post exploded"); }',
  ),
  'tiny.ts': `
import { z } from 'zod';
export default {
  model: 'tiny', slo: 100, input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ n: output.data.length }),
  example: { x: 1 },
};`,
  'syntax-error.ts': 'export default { model: "lookup", slo: "1s", pre: (x) => x,, };',
  'unknown-model.ts': lookupHandler('(x) => x').replace("model: 'lookup'", "model: 'no-such-model'"),
  'bad-slo.ts': lookupHandler('(x) => x').replace("slo: '2s'", "slo: 'soon'"),
  '_helper.ts': 'export const notAFunction = 1;',
};
for (const [name, text] of Object.entries(files)) writeFileSync(path.join(fnDir, name), text);

const tinyFile = path.resolve('models/mlp-small.onnx');
let s: Serving;

before(async () => {
  s = await startRuntime({
    functionsDir: path.resolve(fnDir),
    models: { lookup: { file: lookupFile, maxBatch: 16 }, tiny: { file: tinyFile, maxBatch: 8 } },
    // Room for one model only: loading one evicts the other.
    limits: { modelCacheBytes: Math.max(statSync(lookupFile).size, statSync(tinyFile).size) + 1 },
  });
});
after(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('loading handler files', () => {
  test('bad files are reported with their file and reason; the good ones serve', async () => {
    const { functions, problems } = (await (await fetch(`${s.url}/functions`)).json()) as any;
    assert.deepEqual(functions.map((f: any) => f.name).sort(), ['bad-shape', 'lookup', 'post-throws', 'tiny', 'wrong-type']);
    const byFile = Object.fromEntries(problems.map((p: any) => [path.basename(p.file), p.message]));
    assert.deepEqual(Object.keys(byFile).sort(), [
      'bad-slo.ts',
      'example-bad-shape.ts',
      'example-fails-schema.ts',
      'syntax-error.ts',
      'unknown-model.ts',
    ]);
    assert.match(byFile['example-bad-shape.ts'], /example does not make a valid item.*shape/);
    assert.match(byFile['example-fails-schema.ts'], /example does not make a valid item.*schema.*index/);
    assert.match(byFile['unknown-model.ts'], /model "no-such-model" is not in hono.config.ts/);
    assert.match(byFile['bad-slo.ts'], /slo.*"soon"/);
    // The compiler's message with file:line:column and the offending line, not just "Transform failed".
    assert.match(byFile['syntax-error.ts'], /cannot be imported: .*Expected identifier but found ","/);
    assert.match(byFile['syntax-error.ts'], /syntax-error\.ts:1:59:/);
    assert.match(byFile['syntax-error.ts'], /1 │ export default \{ model: "lookup", slo: "1s", pre: \(x\) => x,, \};/);
  });
});

describe('a failing model run', () => {
  test('fails only the items of its batch, with one error id; other batches and later calls succeed', async () => {
    const indices = Array.from({ length: 40 }, (_, i) => (i === 25 ? 99 : i % 4));
    const rs = await Promise.all(indices.map((index) => call(s.url, 'lookup', { index })));
    const failed = rs.filter((r) => r.status === 500);
    assert.equal(rs[25].status, 500, 'the bad item fails');
    assert.equal(rs[25].body.error.code, 'run_failed');
    // onnxruntime's own words ("... out of data bounds ...") go to the log under the error id, not to the client.
    assert.match(
      rs[25].body.error.message,
      new RegExp(`model "lookup" failed on batch \\d+; the log has the reason under error id ${rs[25].body.error.errorId}`),
    );
    assert.doesNotMatch(rs[25].body.error.message, /out of data bounds/);
    const batchId = rs[25].body.error.batchId;
    for (const r of failed) {
      assert.equal(r.body.error.batchId, batchId, 'every failure is from the one bad batch');
      assert.equal(r.body.error.errorId, rs[25].body.error.errorId);
    }
    assert.equal(failed.length, rs[25].body.error.batchSize, 'exactly the items of that batch failed');
    rs.forEach((r, i) => {
      if (r.status === 200) {
        assert.deepEqual(r.body.values, [indices[i], 10 * indices[i]]);
        assert.notEqual(r.headers.get('x-batch-id'), String(batchId));
      } else assert.equal(r.status, 500);
    });
    assert.ok(rs.filter((r) => r.status === 200).length >= 40 - 16, 'items of other batches succeeded');
    const later = await call(s.url, 'lookup', { index: 2 });
    assert.equal(later.status, 200, 'the lane recovered');
    assert.deepEqual(later.body.values, [2, 20]);
  });

  test('a shape or type that does not fit the model is a 400 before it reaches a batch', async () => {
    const [shape, type, good] = await Promise.all([
      call(s.url, 'bad-shape', { index: 1 }),
      call(s.url, 'wrong-type', { index: 1 }),
      call(s.url, 'lookup', { index: 3 }),
    ]);
    assert.equal(shape.status, 400);
    assert.equal(shape.body.error.code, 'bad_shape');
    assert.match(shape.body.error.message, /shape/);
    assert.equal(type.status, 400);
    assert.match(type.body.error.message, /int64/);
    assert.equal(good.status, 200);
  });

  test('post() throwing is a 500 with an error id for that call only', async () => {
    const [bad, good] = await Promise.all([call(s.url, 'post-throws', { index: 1 }), call(s.url, 'lookup', { index: 1 })]);
    assert.equal(bad.status, 500);
    assert.match(bad.body.error.message, /"post-throws" post\(\) failed; the log has the reason under error id/);
    assert.doesNotMatch(bad.body.error.message, /post exploded/, "the handler's words stay in the log");
    assert.match(bad.body.error.errorId, /^[0-9a-f-]{36}$/);
    assert.equal(good.status, 200);
  });
});

describe('model cache', () => {
  test('an evicted model is released and loaded again on demand', async () => {
    assert.equal((await call(s.url, 'tiny', { x: 0.5 })).status, 200);
    assert.equal(s.runtime.models.isLoaded('tiny'), true);
    assert.equal(s.runtime.models.isLoaded('lookup'), false, 'loading tiny evicted lookup');
    const again = await call(s.url, 'lookup', { index: 3 });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.values, [3, 30]);
    assert.equal(s.runtime.models.isLoaded('lookup'), true);
    assert.equal(s.runtime.models.isLoaded('tiny'), false);
  });
});

describe('device: cuda', () => {
  test('without the CUDA provider the model fails to load with a clear reason; the runtime answers 503', async () => {
    const gpu = await startRuntime({ device: 'cuda', functionsDir: path.resolve(fnDir), models: { lookup: { file: lookupFile } } });
    try {
      const ready = await fetch(`${gpu.url}/readyz`);
      assert.equal(ready.status, 503);
      const body = (await ready.json()) as any;
      assert.equal(body.models.lookup.state, 'failed');
      assert.match(body.models.lookup.error, /CUDA execution provider is not installed/);
      const r = await call(gpu.url, 'lookup', { index: 1 });
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'model_unavailable');
    } finally {
      await gpu.stop();
    }
  });
});
