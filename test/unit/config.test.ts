import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { lanesOn, loadConfig, parseDuration, resolveConfig, type UserConfig } from 'edgebatch';
import { mergeConfig } from '../../runtime/config.ts';
import { defaults } from '../../runtime/defaults.ts';

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
  const c = resolveConfig(
    { lanes: 2, models: { a: { file: 'a.onnx' }, b: { file: 'b.onnx', device: 'webgpu', maxBatchBytes: 4096 } } },
    '/x',
    {},
  );
  assert.equal(c.models.a.device, 'cpu');
  assert.equal(c.models.a.maxBatchBytes, undefined);
  assert.equal(c.models.b.device, 'webgpu');
  assert.equal(c.models.b.maxBatchBytes, 4096);
  assert.equal(lanesOn(c, 'cpu'), 2);
  assert.equal(lanesOn(c, 'webgpu'), 1);
  assert.equal(resolveConfig({ device: 'webgpu', models: { a: { file: 'a.onnx' } } }, '/x', {}).models.a.device, 'webgpu');
});

test('bad options throw a TypeError naming the option, what was expected and what was given', () => {
  assert.throws(
    () => resolveConfig({ models: { m: { file: 'a.onnx', maxBatch: 0 } } }, '/x', {}),
    /models\.m\.maxBatch must be an integer >= 1, got 0/,
  );
  assert.throws(
    () => resolveConfig({ models: { m: { file: 'a.onnx', policy: 'fast' as never } } }, '/x', {}),
    /models\.m\.policy must be one of "slo", "greedy", "fixed-delay", "none", got "fast"/,
  );
  assert.throws(
    () => resolveConfig({ device: 'tpu' as never, models: {} }, '/x', {}),
    /device must be one of "cpu", "cuda", "webgpu", got "tpu"/,
  );
  assert.throws(
    () => resolveConfig({ models: { m: { file: 'a.onnx', device: 'gpu' as never } } }, '/x', {}),
    /models\.m\.device must be one of "cpu", "cuda", "webgpu", got "gpu"/,
  );
  assert.throws(
    () => resolveConfig({ models: { m: { file: 'a.onnx', maxBatchBytes: 0 } } }, '/x', {}),
    /models\.m\.maxBatchBytes must be an integer >= 1, got 0/,
  );
  assert.throws(
    () => resolveConfig({ models: { m: { file: 'a.onnx', maxBatchBytes: '1MB' as never } } }, '/x', {}),
    /models\.m\.maxBatchBytes must be an integer >= 1, got "1MB"/,
  );
  assert.throws(
    () => resolveConfig({ device: 'webgpu', lanes: 2, models: {} }, '/x', {}),
    /lanes must be 1 with device "webgpu" .*, got 2/,
  );
  assert.throws(() => resolveConfig({ models: {} }, '/x', { PORT: 'eighty' }), /port must be an integer 0-65535, got "eighty"/);
  assert.throws(() => resolveConfig({ models: { m: {} as never } }, '/x', {}), /models\.m\.file must be a path/);
});

test('the HTTP limits: defaults for an inference server, durations read, a headers timeout past the request timeout refused', () => {
  const d = resolveConfig({ models: {} }, '/x', {}).limits;
  assert.deepEqual([d.headersTimeoutMs, d.requestTimeoutMs, d.keepAliveTimeoutMs, d.maxConnections], [10_000, 30_000, 5_000, 4096]);
  const c = resolveConfig(
    { models: {}, limits: { headersTimeout: '2s', requestTimeout: 2500.2, keepAliveTimeout: '1s', maxConnections: 10 } },
    '/x',
    {},
  ).limits;
  assert.deepEqual(
    [c.headersTimeoutMs, c.requestTimeoutMs, c.keepAliveTimeoutMs, c.maxConnections],
    [2000, 2501, 1000, 10],
    'whole ms, rounded up',
  );
  assert.throws(
    () => resolveConfig({ models: {}, limits: { headersTimeout: '40s' } }, '/x', {}),
    /limits\.headersTimeout must not be longer than limits\.requestTimeout \(30000 ms\), got 40000/,
  );
  assert.throws(
    () => resolveConfig({ models: {}, limits: { requestTimeout: '0s' } }, '/x', {}),
    /limits\.requestTimeout must be a positive duration/,
  );
  assert.throws(
    () => resolveConfig({ models: {}, limits: { maxConnections: 0 } }, '/x', {}),
    /limits\.maxConnections must be an integer >= 1, got 0/,
  );
});

test('an unknown key is refused at every level, named by its path and the config file', () => {
  const bad = (user: unknown) => () => resolveConfig(user as UserConfig, '/x', {}, 'hono.config.ts');
  assert.throws(
    bad({ models: { mlp: { file: 'a.onnx', maxBacth: 64 } } }),
    /^TypeError: hono\.config\.ts: models\.mlp\.maxBacth is not an option$/,
  );
  assert.throws(bad({ hots: '0.0.0.0', models: {} }), /hono\.config\.ts: hots is not an option/);
  assert.throws(bad({ models: {}, scheduler: { polcy: 'greedy' } }), /scheduler\.polcy is not an option/);
  assert.throws(
    bad({ models: { m: { file: 'a.onnx', fixedDelay: { maxDelay: '5ms' } } } }),
    /models\.m\.fixedDelay\.maxDelay is not an option/,
  );
  assert.throws(bad({ models: {}, limits: { bodyByte: 1 } }), /limits\.bodyByte is not an option/);
  // Every problem at once, not only the first.
  assert.throws(
    bad({ models: {}, lanes: 0, energy: { watts: 1 } }),
    /lanes must be an integer >= 1, got 0; energy\.watts is not an option/,
  );
});

test('host, logLevel, input, accessLog and durations are validated too, and an environment variable is named when it is the bad value', () => {
  const bad =
    (user: unknown, env: NodeJS.ProcessEnv = {}) =>
    () =>
      resolveConfig(user as UserConfig, '/x', env);
  assert.throws(bad({ host: 'not a host', models: {} }), /host must be an IP address or a host name, got "not a host"/);
  assert.throws(bad({ models: {} }, { HOST: 'a b' }), /host must be an IP address or a host name, got "a b" \(from HOST\)/);
  assert.throws(
    bad({ logLevel: 'verbose', models: {} }),
    /logLevel must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"/,
  );
  assert.throws(bad({ models: {} }, { LOG_LEVEL: 'loud' }), /logLevel must be one of .*, got "loud" \(from LOG_LEVEL\)/);
  assert.throws(
    bad({ models: { m: { file: 'a.onnx', input: '' } } }),
    /models\.m\.input must be the name of one of the model's inputs, got ""/,
  );
  assert.throws(
    bad({ models: {} }, { EDGEBATCH_ACCESS_LOG: 'warn' }),
    /accessLog must be one of "debug", "info", got "warn" \(from EDGEBATCH_ACCESS_LOG\)/,
  );
  assert.throws(
    bad({ models: {}, shutdownGrace: 'soon' }),
    /shutdownGrace must be a positive duration like "50ms", "0\.5s" or a number of ms, got "soon"/,
  );
  assert.throws(
    bad({ models: {}, scheduler: { meanObjectiveFraction: 1.5 } }),
    /scheduler\.meanObjectiveFraction must be in \(0, 1\], got 1\.5/,
  );
  assert.throws(bad({ models: {}, limits: { hookTimeoutFactor: 0 } }), /limits\.hookTimeoutFactor must be a number > 0, got 0/);
  assert.throws(bad({ models: 'mlp' }), /models must be an object mapping model names to \{ file \}, got "mlp"/);
  for (const host of ['0.0.0.0', '::', 'localhost', 'edge-1.internal'])
    assert.equal(resolveConfig({ host, models: {} }, '/x', {}).host, host);
  const c = resolveConfig({ models: {} }, '/x', { LOG_LEVEL: 'silent', EDGEBATCH_ACCESS_LOG: 'info', EDGEBATCH_ADMIN_TOKEN: 't' });
  assert.deepEqual([c.logLevel, c.accessLog, c.adminToken], ['silent', 'info', 't']);
});

test('the defaults the planner, the simulator and the CLI share are the ones the config applies', () => {
  const c = resolveConfig({ models: { m: { file: 'm.onnx', maxBatch: 8, policy: 'fixed-delay' } } }, '/x', {});
  assert.equal(`http://${c.host}:${c.port}`, `http://${defaults.host}:${defaults.port}`);
  assert.deepEqual(c.energy, defaults.energy);
  const { policy, admission, ...scheduler } = c.scheduler;
  assert.deepEqual(scheduler, defaults.scheduler);
  assert.deepEqual([policy, admission], ['slo', true]);
  // Defaults that follow other options: the model's policy, the preferred batch of fixed-delay.
  assert.deepEqual(c.models.m.fixedDelay, { maxQueueDelayMs: 5, preferredBatchSize: 8 });
  assert.equal(c.models.m.v2SloMs, undefined);
  assert.equal(resolveConfig({ scheduler: { policy: 'greedy' }, models: { m: { file: 'm.onnx' } } }, '/x', {}).models.m.policy, 'greedy');
});

test('the resolved config is frozen all the way down: what changes at run time has an API of its own', () => {
  const c = resolveConfig({ models: { m: { file: 'm.onnx' } } }, '/x', {});
  for (const part of [c, c.scheduler, c.limits, c.energy, c.models, c.models.m, c.models.m.fixedDelay]) assert.ok(Object.isFrozen(part));
  assert.throws(() => {
    (c.scheduler as { admission: boolean }).admission = false;
  }, TypeError);
});

test("overrides merge into the file block by block; models replace the file's set", () => {
  const file: UserConfig = {
    port: 1,
    models: { a: { file: 'a.onnx' }, b: { file: 'b.onnx' } },
    scheduler: { policy: 'greedy', margin: '7ms' },
    limits: { queueLength: 4 },
  };
  const merged = mergeConfig(file, { scheduler: { admission: false }, models: { c: { file: 'c.onnx' } }, limits: { bodyBytes: 10 } });
  assert.deepEqual(merged.scheduler, { policy: 'greedy', margin: '7ms', admission: false });
  assert.deepEqual(merged.limits, { queueLength: 4, bodyBytes: 10 });
  assert.deepEqual(Object.keys(merged.models), ['c']);
  assert.equal(merged.port, 1);
  assert.deepEqual(file.scheduler, { policy: 'greedy', margin: '7ms' }, "the file's object is not changed");
});

test("loadConfig: a test's override of one scheduler key keeps the file's other scheduler keys, and a typo names the file", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgebatch-config-'));
  try {
    const good = path.join(dir, 'good.config.mjs');
    writeFileSync(good, "export default { models: { m: { file: 'm.onnx' } }, scheduler: { policy: 'greedy', margin: '7ms' } };\n");
    const c = await loadConfig(good, { scheduler: { admission: false } }, {});
    assert.deepEqual([c.scheduler.policy, c.scheduler.marginMs, c.scheduler.admission], ['greedy', 7, false]);
    assert.equal(c.models.m.file, path.join(dir, 'm.onnx'));
    const typo = path.join(dir, 'typo.config.mjs');
    writeFileSync(typo, "export default { models: { mlp: { file: 'm.onnx', maxBacth: 64 } } };\n");
    await assert.rejects(
      loadConfig(typo, {}, {}),
      (err: Error) => err instanceof TypeError && err.message === `${typo}: models.mlp.maxBacth is not an option`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an empty admin token, in the file or the environment, leaves the admin API off as before', () => {
  assert.equal(resolveConfig({ models: {}, admin: { token: 'file' } }, '/x', { EDGEBATCH_ADMIN_TOKEN: '' }).adminToken, '');
  assert.equal(resolveConfig({ models: {}, admin: { token: '' } }, '/x', {}).adminToken, '');
  assert.throws(() => resolveConfig({ models: {}, admin: { token: 42 } } as never, '/x', {}), /admin\.token must be a string, got 42/);
});
