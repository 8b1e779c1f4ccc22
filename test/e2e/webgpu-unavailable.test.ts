/**
 * A webgpu device that cannot start: Vulkan is pointed at a driver list that does not exist, so Dawn finds
 * no adapter. Its own file, because the variable must be set before the first WebGPU session of the process
 * (onnxruntime-node keeps one Dawn instance per process).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { call, startRuntime } from '../helpers/serve.ts';

process.env.VK_ICD_FILENAMES = '/nonexistent/no-vulkan-driver.json';

let s: Serving;
before(async () => {
  s = await startRuntime({ device: 'webgpu', models: { mlp: { file: 'models/mlp-large.onnx' } } });
});
after(() => s.stop());

test('no WebGPU adapter: /readyz and calls say why in one line; the runtime answers 503', async () => {
  const ready = await fetch(`${s.url}/readyz`);
  assert.equal(ready.status, 503);
  const body = (await ready.json()) as any;
  assert.equal(body.models.mlp.state, 'failed');
  assert.match(body.models.mlp.error, /^device "webgpu" could not be used for model "mlp": no WebGPU adapter/);
  assert.doesNotMatch(body.models.mlp.error, /\n/);
  const r = await call(s.url, 'mlp-classify', { features: Array(128).fill(0) });
  assert.equal(r.status, 503);
  assert.equal(r.body.error.code, 'model_unavailable');
  assert.match(r.body.error.message, /no WebGPU adapter/);
});
