import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lanesOn, parseDuration, resolveConfig } from 'edgebatch';

test('parseDuration reads ms, s and plain numbers, and rejects anything else by name', () => {
  assert.equal(parseDuration('50ms'), 50);
  assert.equal(parseDuration('0.5s'), 500);
  assert.equal(parseDuration(20), 20);
  assert.throws(() => parseDuration('fast', 'slo'), /slo must be a positive duration.*got "fast"/);
  assert.throws(() => parseDuration(-1), TypeError);
  assert.throws(() => parseDuration('0ms'), TypeError);
});

test('resolveConfig applies every default once and resolves paths against the config folder', () => {
  const c = resolveConfig({ models: { m: { file: 'models/m.onnx' } } }, '/srv/app', {});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8787);
  assert.equal(c.device, 'cpu');
  assert.equal(c.functionsDir, '/srv/app/functions');
  assert.equal(c.models.m.file, '/srv/app/models/m.onnx');
  assert.equal(c.models.m.maxBatch, 32);
  assert.equal(c.models.m.policy, 'slo');
  assert.equal(c.scheduler.marginMs, 2);
  assert.equal(c.limits.bodyBytes, 1024 * 1024);
  assert.equal(c.adminToken, undefined);
});

test('HOST and PORT from the environment override the config, as hosted runtimes expect', () => {
  const c = resolveConfig({ host: '0.0.0.0', port: 1, models: {} }, '/x', { HOST: '127.0.0.2', PORT: '9999' });
  assert.equal(c.host, '127.0.0.2');
  assert.equal(c.port, 9999);
});

test('device per model: the top-level device is the default; webgpu runs on one lane whatever lanes says for the CPU', () => {
  const c = resolveConfig({ lanes: 2, models: { a: { file: 'a.onnx' }, b: { file: 'b.onnx', device: 'webgpu', maxBatchBytes: 4096 } } }, '/x', {});
  assert.equal(c.models.a.device, 'cpu');
  assert.equal(c.models.a.maxBatchBytes, undefined);
  assert.equal(c.models.b.device, 'webgpu');
  assert.equal(c.models.b.maxBatchBytes, 4096);
  assert.equal(lanesOn(c, 'cpu'), 2);
  assert.equal(lanesOn(c, 'webgpu'), 1);
  assert.equal(resolveConfig({ device: 'webgpu', models: { a: { file: 'a.onnx' } } }, '/x', {}).models.a.device, 'webgpu');
});

test('bad options throw a TypeError naming the option, what was expected and what was given', () => {
  assert.throws(() => resolveConfig({ models: { m: { file: 'a.onnx', maxBatch: 0 } } }, '/x', {}), /models\.m\.maxBatch must be an integer >= 1, got 0/);
  assert.throws(() => resolveConfig({ models: { m: { file: 'a.onnx', policy: 'fast' as never } } }, '/x', {}), /models\.m\.policy must be one of "slo", "greedy", "fixed-delay", "none", got "fast"/);
  assert.throws(() => resolveConfig({ device: 'tpu' as never, models: {} }, '/x', {}), /device must be one of "cpu", "cuda", "webgpu", got "tpu"/);
  assert.throws(() => resolveConfig({ models: { m: { file: 'a.onnx', device: 'gpu' as never } } }, '/x', {}), /models\.m\.device must be one of "cpu", "cuda", "webgpu", got "gpu"/);
  assert.throws(() => resolveConfig({ models: { m: { file: 'a.onnx', maxBatchBytes: 0 } } }, '/x', {}), /models\.m\.maxBatchBytes must be an integer >= 1, got 0/);
  assert.throws(() => resolveConfig({ models: { m: { file: 'a.onnx', maxBatchBytes: '1MB' as never } } }, '/x', {}), /models\.m\.maxBatchBytes must be an integer >= 1, got "1MB"/);
  assert.throws(() => resolveConfig({ device: 'webgpu', lanes: 2, models: {} }, '/x', {}), /lanes must be 1 with device "webgpu" .*, got 2/);
  assert.throws(() => resolveConfig({ models: {} }, '/x', { PORT: 'eighty' }), /port must be an integer 0-65535, got "eighty"/);
  assert.throws(() => resolveConfig({ models: { m: {} as never } }, '/x', {}), /models\.m\.file must be a path/);
});

test('the HTTP limits: defaults for an inference server, durations read, a headers timeout past the request timeout refused', () => {
  const d = resolveConfig({ models: {} }, '/x', {}).limits;
  assert.deepEqual(
    [d.headersTimeoutMs, d.requestTimeoutMs, d.keepAliveTimeoutMs, d.maxConnections],
    [10_000, 30_000, 5_000, 4096],
  );
  const c = resolveConfig({ models: {}, limits: { headersTimeout: '2s', requestTimeout: 2500.2, keepAliveTimeout: '1s', maxConnections: 10 } }, '/x', {}).limits;
  assert.deepEqual([c.headersTimeoutMs, c.requestTimeoutMs, c.keepAliveTimeoutMs, c.maxConnections], [2000, 2501, 1000, 10], 'whole ms, rounded up');
  assert.throws(() => resolveConfig({ models: {}, limits: { headersTimeout: '40s' } }, '/x', {}), /limits\.headersTimeout \(40000 ms\) must not be longer than limits\.requestTimeout \(30000 ms\)/);
  assert.throws(() => resolveConfig({ models: {}, limits: { requestTimeout: '0s' } }, '/x', {}), /limits\.requestTimeout must be a positive duration/);
  assert.throws(() => resolveConfig({ models: {}, limits: { maxConnections: 0 } }, '/x', {}), /limits\.maxConnections must be an integer >= 1, got 0/);
});
