/**
 * Runs the real PaddleOCR ONNX models (directly through onnxruntime-node, not
 * through the runtime) on the committed fixtures to check the preprocessing and
 * postprocessing helpers in functions/_shared/ocr.ts, plus the row-equivalence
 * property of the synthetic models from scripts/gen-models.ts.
 *
 *   npx tsx --test test/e2e/ocr-preprocess.test.ts
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import {
  ctcDecode,
  decodeImage,
  directionInput,
  directionLabel,
  loadDictionary,
  ocrModelPaths,
  recognitionInput,
} from '../../functions/_shared/ocr.ts';
import type { ModelInput, RgbImage } from '../../functions/_shared/ocr.ts';
import { ensureModels } from '../../scripts/gen-models.ts';

interface Fixture {
  file: string;
  text: string;
  angle: 0 | 180;
}

const fixturesDir = new URL('../fixtures/', import.meta.url);
const manifest = JSON.parse(await readFile(new URL('fixtures.json', fixturesDir), 'utf8')) as { fixtures: Fixture[] };
const fixtures = manifest.fixtures;
const fixtureBase64 = async (f: Fixture) => (await readFile(new URL(f.file, fixturesDir))).toString('base64');

let sessions: Promise<{ cls: ort.InferenceSession; rec: ort.InferenceSession }> | undefined;
function ocrSessions() {
  sessions ??= (async () => {
    const paths = await ocrModelPaths();
    const [cls, rec] = await Promise.all([ort.InferenceSession.create(paths.classifier), ort.InferenceSession.create(paths.recognizer)]);
    return { cls, rec };
  })();
  return sessions;
}

/** Stacks [3,48,W_i] inputs into one [N,3,48,maxW] batch, right-padding with 0 like the runtime does. */
function stack(inputs: ModelInput[]): ort.Tensor {
  const [c, h] = inputs[0].dims;
  const maxW = Math.max(...inputs.map((i) => i.dims[2]));
  const out = new Float32Array(inputs.length * c * h * maxW);
  inputs.forEach((input, n) => {
    const w = input.dims[2];
    for (let row = 0; row < c * h; row++) {
      out.set(input.data.subarray(row * w, (row + 1) * w), (n * c * h + row) * maxW);
    }
  });
  return new ort.Tensor('float32', out, [inputs.length, c, h, maxW]);
}

async function runSingleOutput(session: ort.InferenceSession, x: ort.Tensor): Promise<ort.Tensor> {
  const out = await session.run({ [session.inputNames[0]]: x });
  return out[session.outputNames[0]];
}

async function recognise(inputs: ModelInput[]): Promise<Array<{ text: string; confidence: number }>> {
  const { rec } = await ocrSessions();
  const dict = await loadDictionary();
  const out = await runSingleOutput(rec, stack(inputs));
  const [n, steps, classes] = out.dims;
  const probs = out.data as Float32Array;
  return Array.from({ length: n }, (_, i) =>
    ctcDecode(probs.subarray(i * steps * classes, (i + 1) * steps * classes), steps, classes, dict),
  );
}

test('fixtures manifest lists upright and rotated copies', () => {
  // (every assert.ok gets a message: without one, node:assert re-parses the
  // source to build it, which under tsx can take minutes)
  assert.ok(fixtures.length >= 6, 'at least 6 fixtures');
  assert.ok(
    fixtures.some((f) => f.angle === 0),
    'some upright fixtures',
  );
  assert.ok(
    fixtures.some((f) => f.angle === 180),
    'some rotated fixtures',
  );
});

test('direction classifier: upright fixtures are 0 degrees, rotated ones 180', async (t) => {
  const { cls } = await ocrSessions();
  const inputs = await Promise.all(fixtures.map(async (f) => directionInput(await decodeImage(await fixtureBase64(f)))));
  const out = await runSingleOutput(cls, stack(inputs));
  assert.deepEqual(out.dims, [fixtures.length, 2]);
  const probs = out.data as Float32Array;
  fixtures.forEach((f, i) => {
    const label = directionLabel(probs.subarray(i * 2, i * 2 + 2));
    t.diagnostic(`${f.file}: angle ${label.angle} score ${label.score.toFixed(4)}`);
    assert.equal(label.angle, f.angle, `${f.file} classified ${label.angle} (score ${label.score})`);
  });
});

test('recogniser reads every upright fixture exactly (batched with zero padding and alone)', async (t) => {
  const upright = fixtures.filter((f) => f.angle === 0);
  const inputs = await Promise.all(upright.map(async (f) => recognitionInput(await decodeImage(await fixtureBase64(f)))));
  const batched = await recognise(inputs);
  for (const [i, f] of upright.entries()) {
    const alone = (await recognise([inputs[i]]))[0];
    t.diagnostic(
      `${f.file} (W=${inputs[i].dims[2]}): batched ${JSON.stringify(batched[i].text)} ` +
        `conf ${batched[i].confidence.toFixed(4)}; alone ${JSON.stringify(alone.text)} conf ${alone.confidence.toFixed(4)}`,
    );
    assert.equal(batched[i].text, f.text);
    assert.equal(alone.text, f.text);
    assert.ok(batched[i].confidence > 0.8, `confidence ${batched[i].confidence}`);
    // PP-OCRv4's SVTR neck attends over the whole line, so zero padding nudges the
    // probabilities a little (it does not change the decoded text)
    const drift = Math.abs(batched[i].confidence - alone.confidence);
    assert.ok(drift < 0.05, `confidence drift ${drift} between padded and unpadded`);
  }
});

test('dictionary matches the recogniser class count', async () => {
  const dict = await loadDictionary();
  assert.equal(dict.length, 6625);
  assert.equal(dict[0], '');
  assert.equal(dict[dict.length - 1], ' ');
  assert.equal(await loadDictionary(), dict, 'cached');
  const { rec } = await ocrSessions();
  const out = await runSingleOutput(rec, new ort.Tensor('float32', new Float32Array(3 * 48 * 320), [1, 3, 48, 320]));
  assert.deepEqual(out.dims, [1, 40, dict.length]);
});

test('decodeImage accepts PNG, JPEG and data URLs', async () => {
  const png = await fixtureBase64(fixtures[0]);
  const a = await decodeImage(png);
  const meta = await sharp(Buffer.from(png, 'base64')).metadata();
  assert.equal(a.width, meta.width);
  assert.equal(a.height, meta.height);
  assert.equal(a.data.length, a.width * a.height * 3, 'greyscale PNG becomes 3-channel RGB');

  const b = await decodeImage(`data:image/png;base64,${png}`);
  assert.deepEqual(b.data, a.data);

  const jpeg = await sharp({ create: { width: 5, height: 3, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toBuffer();
  const c = await decodeImage(`data:image/jpeg;base64,${jpeg.toString('base64')}`);
  assert.equal(c.width, 5);
  assert.equal(c.height, 3);
  assert.ok(c.data[0] > 240 && c.data[1] < 15 && c.data[2] < 15, `red pixel decoded as ${[...c.data.subarray(0, 3)]}`);

  const transparent = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .png()
    .toBuffer();
  const d = await decodeImage(transparent.toString('base64'));
  assert.deepEqual([...d.data.subarray(0, 3)], [255, 255, 255], 'transparency flattened onto white');
});

test('decodeImage rejects bad input with a clear error', async () => {
  await assert.rejects(decodeImage('this is *not* base64!'), /not valid base64/);
  await assert.rejects(decodeImage(''), /empty/);
  await assert.rejects(decodeImage(Buffer.from('hello, world: plain text').toString('base64')), /not a PNG or JPEG/);
  const gif = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
    .gif()
    .toBuffer();
  await assert.rejects(decodeImage(gif.toString('base64')), /not a PNG or JPEG/);
  await assert.rejects(decodeImage(`data:image/gif;base64,${gif.toString('base64')}`), /not a PNG or JPEG/);
  await assert.rejects(decodeImage('data:image/png,plain'), /base64/);
  const png = (await readFile(new URL(fixtures[0].file, fixturesDir))).subarray(0, 100);
  await assert.rejects(decodeImage(png.toString('base64')), /could not be decoded/);
  const huge = await sharp({ create: { width: 4097, height: 4096, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  await assert.rejects(decodeImage(huge.toString('base64')), /image too large: 4097x4096/);
});

const solid = (width: number, height: number, rgb: [number, number, number]): RgbImage => {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { data, width, height };
};

test('directionInput: [3,48,192], aspect-preserving width, normalised BGR planes, zero padding', () => {
  const plane = 48 * 192;
  const a = directionInput(solid(100, 50, [255, 0, 0])); // -> 96 wide
  assert.deepEqual(a.dims, [3, 48, 192]);
  assert.equal(a.data.length, 3 * plane);
  assert.equal(a.data[0], -1, 'plane 0 is blue');
  assert.equal(a.data[2 * plane], 1, 'plane 2 is red');
  assert.equal(a.data[95], -1);
  assert.equal(a.data[96], 0, 'padding');
  assert.equal(a.data[2 * plane + 47 * 192 + 95], 1);
  assert.equal(a.data[2 * plane + 47 * 192 + 96], 0);
  const b = directionInput(solid(1000, 48, [128, 128, 128])); // wider than 192: squeezed, no padding
  assert.deepEqual(b.dims, [3, 48, 192]);
  assert.ok(
    b.data.every((v) => Math.abs(v - (128 / 255 - 0.5) / 0.5) < 1e-6),
    'uniform grey normalised',
  );
  assert.throws(() => directionInput({ data: Buffer.alloc(3), width: 2, height: 2 }), /shorter/);
});

test('recognitionInput: height 48, width ceil(48w/h) padded to >= 320 and a multiple of 8, capped', () => {
  const w = (width: number, height: number, opts?: Parameters<typeof recognitionInput>[1]) =>
    recognitionInput(solid(width, height, [0, 0, 0]), opts).dims;
  assert.deepEqual(w(280, 48), [3, 48, 320]);
  assert.deepEqual(w(400, 48), [3, 48, 400]);
  assert.deepEqual(w(401, 48), [3, 48, 408]);
  assert.deepEqual(w(401, 96), [3, 48, 320]);
  assert.deepEqual(w(100_000, 48), [3, 48, 1280]);
  assert.deepEqual(w(100_000, 48, { maxWidth: 2000 }), [3, 48, 2000]);
  assert.deepEqual(w(10, 48, { minWidth: 16 }), [3, 48, 16]);
  const r = recognitionInput(solid(401, 48, [0, 0, 0]));
  const W = r.dims[2];
  assert.equal(r.data.length, 3 * 48 * W);
  assert.equal(r.data[400], -1);
  assert.equal(r.data[401], 0, 'zero padding after the resized width');
  assert.equal(r.data[2 * 48 * W + 47 * W + 407], 0);
});

test('ctcDecode: argmax, collapse repeats, drop blanks, mean confidence', () => {
  const dict = ['', 'a', 'b', ' '];
  const C = dict.length;
  const seq = (steps: Array<[number, number]>) => {
    const probs = new Float32Array(steps.length * C);
    steps.forEach(([k, p], t) => {
      probs.fill((1 - p) / (C - 1), t * C, (t + 1) * C);
      probs[t * C + k] = p;
    });
    return ctcDecode(probs, steps.length, C, dict);
  };
  const r = seq([
    [1, 0.9],
    [1, 0.5],
    [0, 0.99],
    [1, 0.7],
    [2, 0.8],
    [2, 0.6],
    [3, 0.9],
    [2, 0.5],
    [0, 0.9],
  ]);
  assert.equal(r.text, 'aab b');
  // kept steps: first of each run -> 0.9, 0.7, 0.8, 0.9, 0.5
  assert.ok(Math.abs(r.confidence - (0.9 + 0.7 + 0.8 + 0.9 + 0.5) / 5) < 1e-6, `confidence ${r.confidence}`);
  assert.deepEqual(
    seq([
      [0, 0.9],
      [0, 0.8],
    ]),
    { text: '', confidence: 0 },
  );
  assert.deepEqual(ctcDecode(new Float32Array(0), 0, C, dict), { text: '', confidence: 0 });
  // trailing blank steps (right padding) do not change the result
  const padded = seq([
    [1, 0.9],
    [2, 0.8],
    [0, 0.99],
    [0, 0.99],
    [0, 0.99],
  ]);
  assert.equal(padded.text, 'ab');
  assert.throws(() => ctcDecode(new Float32Array(3), 1, C, dict), /expected 1x4/);
  assert.throws(() => ctcDecode(new Float32Array(5), 1, 5, dict), /dictionary/);
});

test('directionLabel: class 0 is 0 degrees, class 1 is 180', () => {
  assert.deepEqual(directionLabel(new Float32Array([0.75, 0.25])), { angle: 0, score: 0.75 });
  assert.deepEqual(directionLabel(new Float32Array([0.25, 0.75])), { angle: 180, score: 0.75 });
  assert.throws(() => directionLabel(new Float32Array([1])), /expected 2/);
});

test('gen-models: a row gives the same logits alone as inside a batch of 64', async () => {
  const paths = await ensureModels({ log: false });
  for (const file of [paths.large, paths.small]) {
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.inputNames, ['x']);
    assert.deepEqual(session.outputNames, ['logits']);
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed / 2 ** 32) * 2 - 1;
    };
    const x = Float32Array.from({ length: 64 * 128 }, rand);
    const batch = (await session.run({ x: new ort.Tensor('float32', x, [64, 128]) })).logits;
    assert.deepEqual(batch.dims, [64, 10]);
    const all = batch.data as Float32Array;
    assert.ok(all.every(Number.isFinite), 'finite logits');
    assert.ok(new Set(Array.from(all.subarray(0, 10), (v) => v.toFixed(3))).size > 5, 'outputs vary');
    assert.notDeepEqual(all.subarray(0, 10), all.subarray(10, 20), 'outputs depend on the input');
    for (let i = 0; i < 64; i++) {
      const row = x.slice(i * 128, (i + 1) * 128);
      const one = (await session.run({ x: new ort.Tensor('float32', row, [1, 128]) })).logits.data as Float32Array;
      for (let j = 0; j < 10; j++) {
        assert.ok(Math.abs(one[j] - all[i * 10 + j]) <= 1e-5, `${file} row ${i} col ${j}: ${one[j]} vs ${all[i * 10 + j]}`);
      }
    }
  }
});
