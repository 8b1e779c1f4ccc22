/**
 * `device: 'webgpu'` end to end: the real runtime, real HTTP, real models, on onnxruntime-node's bundled
 * WebGPU provider. In CI (and on hosts without a GPU) it runs on Mesa's software Vulkan device, lavapipe,
 * which .ci/run installs; on an NVIDIA host the same tests run on the GPU. Each is judged against the same
 * models on the CPU in this process, by answers and by batch counts, never by wall-clock thresholds.
 * lavapipe takes 50-250 ms a batch, so the loads here are small and short.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Serving, UserConfig } from 'edgebatch';
import { ocrModelPaths } from '../../functions/_shared/ocr.ts';
import { fixtures } from '../helpers/fixtures.ts';
import { openLoop } from '../helpers/open-loop.ts';
import { call, startRuntime } from '../helpers/serve.ts';

// Two handlers re-exported from functions/ with a 1 s SLO: room for lavapipe's batch cost and for a hold.
mkdirSync('test/tmp', { recursive: true });
const dir = mkdtempSync(path.join('test/tmp', 'webgpu-'));
const fnDir = path.resolve(dir, 'functions');
mkdirSync(fnDir);
const reexport = (file: string) =>
  `import base from ${JSON.stringify(pathToFileURL(path.resolve('functions', file)).href)};\nexport default { ...base, slo: '1s' };\n`;
writeFileSync(path.join(fnDir, 'scores.ts'), reexport('mlp-scores.ts'));
writeFileSync(path.join(fnDir, 'direction.ts'), reexport('text-direction.ts'));

/** Bytes one MLP item adds to a batch: 128 float32 in, 10 float32 out. */
const MLP_ITEM_BYTES = (128 + 10) * 4;
/** The memory cap under test: four MLP items' worth of bytes, so b_max = 4 although maxBatch is 64. */
const MLP_CAP = 4;

async function start(device: 'cpu' | 'webgpu'): Promise<Serving> {
  const ocr = await ocrModelPaths();
  const models: UserConfig['models'] = {
    mlp: {
      file: 'models/mlp-large.onnx',
      maxBatch: 64,
      device,
      ...(device === 'webgpu' ? { maxBatchBytes: MLP_CAP * MLP_ITEM_BYTES } : {}),
    },
    'ocr-cls': { file: ocr.classifier, maxBatch: 16, device },
  };
  // Admission off: these tests judge answers and batch sizes, and a 503 would only remove calls from both.
  return startRuntime({ functionsDir: fnDir, models, scheduler: { admission: false } });
}

const vector = (k: number) => ({ features: Array.from({ length: 128 }, (_, i) => Math.sin(i * (k + 1) * 0.37)) });

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tolerance, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

let gpu: Serving;
let cpu: Serving;

before(async () => {
  gpu = await start('webgpu');
  cpu = await start('cpu');
});
after(async () => {
  await Promise.all([gpu?.stop(), cpu?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('device: webgpu', () => {
  test('the models load on webgpu and GET /functions/:name says so, with the batch cap from maxBatchBytes', async () => {
    const ready = await fetch(`${gpu.url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(await ready.clone().json()));
    const scores = (await (await fetch(`${gpu.url}/functions/scores`)).json()) as any;
    assert.equal(scores.device, 'webgpu');
    assert.equal(scores.maxBatchBytes, MLP_CAP * MLP_ITEM_BYTES);
    assert.equal(scores.maxBatch, MLP_CAP);
    const onCpu = (await (await fetch(`${cpu.url}/functions/scores`)).json()) as any;
    assert.equal(onCpu.device, 'cpu');
    assert.equal(onCpu.maxBatch, 64);
  });

  test('known answers equal the CPU: MLP scores and OCR direction of every fixture', async () => {
    for (let k = 0; k < 3; k++) {
      const [g, c] = await Promise.all([call(gpu.url, 'scores', vector(k)), call(cpu.url, 'scores', vector(k))]);
      assert.equal(g.status, 200);
      assert.equal(c.status, 200);
      assertClose(g.body.scores, c.body.scores, 1e-4, `scores of vector ${k}`);
    }
    for (const f of fixtures) {
      const [g, c] = await Promise.all([call(gpu.url, 'direction', { image: f.base64 }), call(cpu.url, 'direction', { image: f.base64 })]);
      assert.equal(g.status, 200);
      assert.equal(g.body.angle, f.angle, f.file);
      assert.equal(g.body.angle, c.body.angle, f.file);
      assert.ok(Math.abs(g.body.score - c.body.score) <= 1e-3, `${f.file}: score ${g.body.score} vs ${c.body.score}`);
    }
  });

  test('batch equivalence: an item answered in a batch equals the same item answered alone; batches never pass the memory cap', async () => {
    const n = 12;
    const alone: number[][] = [];
    for (let k = 0; k < n; k++) alone.push((await call(gpu.url, 'scores', vector(k))).body.scores);
    const together = await Promise.all(Array.from({ length: n }, (_, k) => call(gpu.url, 'scores', vector(k))));
    const sizes = together.map((r) => Number(r.headers.get('x-batch-size')));
    assert.ok(
      sizes.some((b) => b > 1),
      `no call shared a batch: ${sizes}`,
    );
    assert.ok(
      sizes.every((b) => b <= MLP_CAP),
      `a batch passed the cap of ${MLP_CAP}: ${sizes}`,
    );
    together.forEach((r, k) => assertClose(r.body.scores, alone[k], 1e-5, `vector ${k} in a batch of ${sizes[k]}`));
  });

  test('the fit of the MLP shows a GPU-like cost: tau0 well above alpha, so a batch of 4 costs under two of 1', async () => {
    // Only the MLP: lavapipe computes on the CPU, and the classifier's convolutions cost it ~29 ms per item
    // against a ~15 ms tau0 (measured here), so that model's fit is CPU-like on a software device.
    // The bound is tau0 > 2 alpha, i.e. tau(4) < 2 tau(1): batching the cap's 4 items halves their cost. A
    // tighter one (tau0 > 5 alpha) failed in CI at tau0 33.7 ms, alpha 15.0 ms: lavapipe computes on the
    // cores the test's HTTP work uses, and the runtime's online fit from these few small batches scatters
    // with that load (tau0/alpha from 2.3 to 30 in runs on one day; the bench's bare loop: 56 to 92).
    const d = (await (await fetch(`${gpu.url}/functions/scores`)).json()) as any;
    assert.ok(d.fit, 'no fit');
    assert.ok(d.fit.tau0Ms > 2 * d.fit.alphaMs, `tau0 ${d.fit.tau0Ms} ms, alpha ${d.fit.alphaMs} ms`);
  });

  test('the slo hold: at the same rate the classifier runs larger batches on webgpu than on the CPU', async () => {
    const fixture = fixtures[0];
    const body = () => ({ image: fixture.base64 });
    // One after the other, so the two devices never share the cores; 8 calls/s for 3 s each.
    const onGpu = await openLoop(gpu.url, 'direction', body, 8, 3000, 7);
    const onCpu = await openLoop(cpu.url, 'direction', body, 8, 3000, 7);
    for (const [name, sent] of [
      ['webgpu', onGpu],
      ['cpu', onCpu],
    ] as const)
      assert.ok(
        sent.every((s) => s.status === 200),
        `${name}: ${sent.map((s) => s.status)}`,
      );
    const batches = (sent: typeof onGpu) => sent.map((s) => Number(s.headers.get('x-batch-size')));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const g = batches(onGpu);
    const c = batches(onCpu);
    assert.ok(mean(g) > mean(c), `mean batch webgpu ${mean(g).toFixed(2)} (${g}) vs cpu ${mean(c).toFixed(2)} (${c})`);
  });
});
