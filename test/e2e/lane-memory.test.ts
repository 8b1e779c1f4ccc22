/**
 * Batch memory through a real lane: a lane worker running onnxruntime hands a batch's input buffer back with
 * its outputs, the next batch is stacked into that buffer (not zeroed, holding the last batch's rows), and
 * its outputs are the ones the same rows get from freshly stacked memory.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { stackFeeds, type ItemFeeds } from '../../runtime/batching/batch-feeds.ts';
import { BatchMemory } from '../../runtime/batching/batch-memory.ts';
import { Device } from '../../runtime/lanes/device.ts';
import { ensureModels } from '../../scripts/gen-models.ts';

await ensureModels({ log: false });
const device = new Device({ lanes: 1, device: 'cpu', threads: 1, nativeLogLevel: 'error' });
after(() => device.close());
const model = { name: 'mlp-small', file: path.resolve('models/mlp-small.onnx') };
const meta = await device.load(model);
const input = meta.inputs[0].name;

/** `n` rows of 128 features, each distinct. */
const rows = (n: number, seed: number): ItemFeeds[] =>
  Array.from({ length: n }, (_, i) => ({
    [input]: { data: Float32Array.from({ length: 128 }, (_, k) => Math.sin(seed + 31 * i + k)), dims: [128] },
  }));

test('a lane hands the input buffer back, and a batch stacked into it answers as a fresh one does', async () => {
  const memory = new BatchMemory();
  // 16 rows of 128 float32 are 8 KiB, a pooled size class.
  const first = stackFeeds(rows(16, 1), 0, memory);
  const sent = (first[input].data as Float32Array).buffer;
  assert.equal(sent.byteLength, 8192);
  const ran = await device.run(model, first, 0);
  assert.equal(sent.byteLength, 0, 'the buffer was transferred to the lane');
  assert.equal(ran.inputs.length, 1, 'the lane handed the input buffer back');
  assert.equal(ran.inputs[0].byteLength, 8192);
  memory.give(ran.inputs);

  // 12 rows (6 KiB) take the same 8 KiB buffer, which still holds the first batch's rows.
  const second = rows(12, 2);
  const reused = stackFeeds(second, 0, memory);
  assert.ok((reused[input].data as Float32Array).buffer === ran.inputs[0], 'stacked into the buffer handed back');
  const fromReused = await device.run(model, reused, 0);
  const fromFresh = await device.run(model, stackFeeds(second, 0), 0);
  const out = meta.outputs[0].name;
  assert.deepEqual(fromReused.outputs[out].dims, [12, 10]);
  assert.deepEqual(Array.from(fromReused.outputs[out].data as Float32Array), Array.from(fromFresh.outputs[out].data as Float32Array));
});
