/**
 * onnxruntime's own logger stays out of the runtime's output: `edgebatch start` with a model on `cuda`
 * (whose provider is not bundled, so onnxruntime's environment logger reports the failed library load in
 * red) writes JSON lines only, with no ANSI escape sequence on stdout or stderr, during startup and calls;
 * the failure is reported in the JSON logs and to the calls instead.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { startCli, writeProject } from '../helpers/cli.ts';
import { call } from '../helpers/serve.ts';

mkdirSync('test/tmp', { recursive: true });
const dir = path.resolve(mkdtempSync(path.join('test/tmp', 'native-logs-')));
after(() => rmSync(dir, { recursive: true, force: true }));

const handler = (model: string) => `import { z } from 'zod';
import { defineFunction } from 'edgebatch';
export default defineFunction({
  model: ${JSON.stringify(model)},
  slo: '2s',
  input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ first: output.data[0] }),
  example: { x: 1 },
});
`;

test('start with a model on cuda: no ANSI escape on stdout or stderr, the failure in the JSON logs', async () => {
  const model = JSON.stringify(path.resolve('models/mlp-small.onnx'));
  const fields = `scheduler: { admission: false },\n  models: { cpu: { file: ${model} }, gpu: { file: ${model}, device: 'cuda' } },`;
  const config = writeProject(dir, fields, { 'on-cpu': handler('cpu'), 'on-gpu': handler('gpu') });
  const srv = await startCli(['start', '--config', config]);
  try {
    const listening = srv.logs.find((l) => l.msg === 'edgebatch listening') as { failedModels?: Record<string, string> };
    assert.match(listening.failedModels?.gpu ?? '', /cuda/i, 'the cuda model failed, and the startup line says so');
    const answers = await Promise.all([1, 2, 3, 4].map((x) => call(srv.url, 'on-cpu', { x })));
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
    const gpu = await call(srv.url, 'on-gpu', { x: 1 });
    assert.equal(gpu.status, 503);
    assert.equal((gpu.body as { error: { code: string } }).error.code, 'model_unavailable');
  } finally {
    srv.proc.kill('SIGTERM');
    await srv.exited;
  }
  const { stdout, stderr } = srv.output();
  assert.ok(stdout.length > 0, 'the runtime logged');
  assert.equal(stdout.match(/\x1b\[[0-9;]*[A-Za-z]/)?.[0], undefined, `ANSI on stdout: ${JSON.stringify(stdout.slice(0, 300))}`);
  assert.equal(stderr.match(/\x1b\[[0-9;]*[A-Za-z]/)?.[0], undefined, `ANSI on stderr: ${JSON.stringify(stderr.slice(0, 300))}`);
  // Every stdout line is a JSON log line.
  for (const line of stdout.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);
});
