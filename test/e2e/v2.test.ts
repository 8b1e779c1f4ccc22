/**
 * The Open Inference Protocol (KServe v2) routes end to end: a real runtime on a loopback port, real HTTP,
 * the real models of hono.config.ts. Responses are checked field by field against the protocol's REST text;
 * v2 rows are shown to ride in the same batches as function calls, and bad requests to hurt no neighbour.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { call, startRuntime } from '../helpers/serve.ts';
import { inferBinary as sendBinary } from '../helpers/v2.ts';
import shipped from '../../hono.config.ts';

let s: Serving;
let base: string;

before(async () => {
  // Admission off: these tests are about answers and batching, not about a shared CI machine's load (the
  // door is tested on its own runtime below). A Triton-style 60 ms queue delay on the MLP gathers
  // concurrent calls into one batch the same way on any machine, and keeps a queued call waiting long
  // enough for its client to leave.
  const mlp = {
    ...shipped.models.mlp,
    policy: 'fixed-delay' as const,
    fixedDelay: { maxQueueDelay: '60ms' as const, preferredBatchSize: 64 },
  };
  s = await startRuntime({ scheduler: { admission: false }, models: { ...shipped.models, mlp } });
  base = s.url;
});
after(() => s.stop());

const features = (seed: number) => Array.from({ length: 128 }, (_, i) => Math.sin(i * 0.37 + seed));

/** POST an inference request; returns status, headers and the parsed JSON body. */
async function infer(path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const res = await fetch(`${base}/v2/models/${path}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const mlpRequest = (rows: number[][], extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'x', shape: [rows.length, 128], datatype: 'FP32', data: rows.flat() }],
  ...extra,
});

function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** A counter of /metrics, 0 when absent. */
async function metric(re: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return Number(re.exec(text)?.[1] ?? 0);
}

describe('health and metadata', () => {
  test('GET /v2/health/live and /v2/health/ready: 200 with an empty body', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready']) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(await r.text(), '', path);
    }
  });

  test('GET /v2: server name, version and extensions (binary_tensor_data)', async () => {
    const r = await fetch(`${base}/v2`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /application\/json/);
    const m = (await r.json()) as any;
    assert.deepEqual(Object.keys(m).sort(), ['extensions', 'name', 'version']);
    assert.equal(m.name, 'edgebatch');
    assert.match(m.version, /^\d+\.\d+\.\d+/);
    assert.ok(Array.isArray(m.extensions) && m.extensions.every((e: unknown) => typeof e === 'string'));
    assert.ok(m.extensions.includes('binary_tensor_data'));
  });

  test('GET /v2/models/{model}[/versions/1]: platform, versions, inputs and outputs with -1 for dynamic dims', async () => {
    const expected = {
      name: 'mlp',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 128] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
    };
    for (const path of ['/v2/models/mlp', '/v2/models/mlp/versions/1']) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.deepEqual(await r.json(), expected, path);
    }
    // The recogniser's line width is dynamic too.
    const rec = (await (await fetch(`${base}/v2/models/ocr-rec`)).json()) as any;
    assert.deepEqual(rec.inputs[0].shape, [-1, 3, 48, -1]);
    assert.equal(rec.inputs[0].datatype, 'FP32');
  });

  test('GET /v2/models/{model}[/versions/1]/ready: 200 empty for a loaded model', async () => {
    for (const model of Object.keys(shipped.models)) {
      for (const path of [`/v2/models/${model}/ready`, `/v2/models/${model}/versions/1/ready`]) {
        const r = await fetch(`${base}${path}`);
        assert.equal(r.status, 200, path);
        assert.equal(await r.text(), '');
      }
    }
  });

  test('an unknown model or version is a 404 with {"error": "..."}', async () => {
    for (const [method, path] of [
      ['GET', '/v2/models/nope'],
      ['GET', '/v2/models/nope/ready'],
      ['GET', '/v2/models/mlp/versions/2'],
      ['GET', '/v2/models/mlp/versions/2/ready'],
      ['POST', '/v2/models/nope/infer'],
      ['POST', '/v2/models/mlp/versions/7/infer'],
    ]) {
      const r = await fetch(`${base}${path}`, { method, body: method === 'POST' ? JSON.stringify(mlpRequest([features(0)])) : undefined });
      assert.equal(r.status, 404, path);
      const body = (await r.json()) as any;
      assert.deepEqual(Object.keys(body), ['error'], path);
      assert.equal(typeof body.error, 'string');
      assert.match(body.error, /nope|version/);
    }
  });
});

describe('infer', () => {
  test('a response field by field: model_name, model_version, id and parameters echoed, outputs of [n, 10]', async () => {
    const rows = [features(1), features(2), features(3)];
    const r = await infer('mlp', mlpRequest(rows, { id: 'req-42', parameters: { tag: 'abc' } }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.headers.get('content-type')!, /application\/json/);
    assert.deepEqual(Object.keys(r.body).sort(), ['id', 'model_name', 'model_version', 'outputs', 'parameters']);
    assert.equal(r.body.model_name, 'mlp');
    assert.equal(r.body.model_version, '1');
    assert.equal(r.body.id, 'req-42');
    assert.deepEqual(r.body.parameters, { tag: 'abc' });
    assert.equal(r.body.outputs.length, 1);
    const out = r.body.outputs[0];
    assert.deepEqual(Object.keys(out).sort(), ['data', 'datatype', 'name', 'shape']);
    assert.equal(out.name, 'logits');
    assert.equal(out.datatype, 'FP32');
    assert.deepEqual(out.shape, [3, 10]);
    assert.equal(out.data.length, 30);
    assert.ok(out.data.every((v: unknown) => typeof v === 'number' && Number.isFinite(v)));
    assert.match(r.headers.get('server-timing')!, /queue;dur=[\d.]+.*inference;dur=[\d.]+/);
    // Without an id the response has none; the versioned route answers the same.
    const v = await infer('mlp/versions/1', mlpRequest(rows));
    assert.equal(v.status, 200);
    assert.equal('id' in v.body, false);
    v.body.outputs[0].data.forEach((x: number, i: number) => assert.ok(Math.abs(x - out.data[i]) < 1e-4));
  });

  test('nested data gives the same outputs as flat data; requested outputs are returned', async () => {
    const rows = [features(4), features(5)];
    const flat = await infer('mlp', mlpRequest(rows));
    const nested = await infer('mlp', {
      inputs: [{ name: 'x', shape: [2, 128], datatype: 'FP32', data: rows }],
      outputs: [{ name: 'logits' }],
    });
    assert.equal(nested.status, 200, JSON.stringify(nested.body));
    nested.body.outputs[0].data.forEach((x: number, i: number) => assert.ok(Math.abs(x - flat.body.outputs[0].data[i]) < 1e-4));
  });

  test('equivalence: the same rows through v2 and through mlp-scores give the same outputs', async () => {
    const rows = Array.from({ length: 6 }, (_, i) => features(10 + i));
    const v2 = await infer('mlp', mlpRequest(rows));
    assert.equal(v2.status, 200);
    for (let i = 0; i < rows.length; i++) {
      const fn = await call(base, 'mlp-scores', { features: rows[i] });
      assert.equal(fn.status, 200);
      const mine = softmax(v2.body.outputs[0].data.slice(i * 10, (i + 1) * 10));
      fn.body.scores.forEach((p: number, k: number) => assert.ok(Math.abs(p - mine[k]) < 1e-5, `row ${i} class ${k}: ${p} vs ${mine[k]}`));
    }
  });

  test('v2 rows and function calls share one batch, each getting its own answer, in order', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => features(100 + i));
    const fnRows = Array.from({ length: 4 }, (_, i) => features(200 + i));
    const [v2, ...fns] = await Promise.all([
      infer('mlp', mlpRequest(rows)),
      ...fnRows.map((f) => call(base, 'mlp-scores', { features: f })),
    ]);
    assert.equal(v2.status, 200);
    const v2Batch = v2.headers.get('x-batch-id')!;
    const shared = fns.filter((f) => f.headers.get('x-batch-id') === v2Batch);
    assert.ok(shared.length >= 1, `v2 batch ${v2Batch}, function batches ${fns.map((f) => f.headers.get('x-batch-id'))}`);
    // A batch of 5 v2 rows and k function calls reports 5 + k items to every caller in it.
    assert.equal(Number(v2.headers.get('x-batch-size')), 5 + shared.length);
    for (const f of shared) assert.equal(f.headers.get('x-batch-size'), v2.headers.get('x-batch-size'));
    // Each row's answer is the one it gets alone (rows keep their order; functions get theirs).
    for (let i = 0; i < rows.length; i++) {
      const alone = await infer('mlp', mlpRequest([rows[i]]));
      alone.body.outputs[0].data.forEach((x: number, k: number) =>
        assert.ok(Math.abs(x - v2.body.outputs[0].data[i * 10 + k]) < 1e-4, `row ${i}`),
      );
    }
    for (let i = 0; i < fns.length; i++) {
      const alone = await infer('mlp', mlpRequest([fnRows[i]]));
      const p = softmax(alone.body.outputs[0].data);
      fns[i].body.scores.forEach((x: number, k: number) => assert.ok(Math.abs(x - p[k]) < 1e-5));
    }
  });

  test('v2 calls show in /metrics and in the live figures of their model', async () => {
    const ok = await metric(/edgebatch_requests_total\{function="v2:mlp",model="mlp",outcome="ok"\} (\d+)/);
    const bad = await metric(/edgebatch_requests_total\{function="v2:mlp",model="mlp",outcome="bad_input"\} (\d+)/);
    const items = await metric(/edgebatch_batch_size_sum\{model="mlp"\} (\d+)/);
    assert.equal((await infer('mlp', mlpRequest([features(1), features(2)]))).status, 200);
    assert.equal(
      (await infer('mlp', mlpRequest([features(1)], { inputs: [{ name: 'x', shape: [1, 128], datatype: 'INT32', data: [] }] }))).status,
      400,
    );
    assert.equal(await metric(/edgebatch_requests_total\{function="v2:mlp",model="mlp",outcome="ok"\} (\d+)/), ok + 1);
    assert.equal(await metric(/edgebatch_requests_total\{function="v2:mlp",model="mlp",outcome="bad_input"\} (\d+)/), bad + 1);
    assert.equal(await metric(/edgebatch_batch_size_sum\{model="mlp"\} (\d+)/), items + 2, 'two rows, two items on the device');
    const d = (await (await fetch(`${base}/functions/mlp-scores`)).json()) as any;
    assert.ok(d.v2Live.served >= 1);
    assert.ok(d.v2Live.meanBatch >= 1);
  });

  test('the default deadline of a v2 call is the loosest SLO on its model', () => {
    assert.equal(s.runtime.v2SloMs('mlp'), 200);
    assert.equal(s.runtime.v2SloMs('ocr-cls'), 250);
  });
});

describe('binary tensor extension', () => {
  /** Sends a binary request to the MLP; returns the JSON header and the binary part of the reply. */
  const inferBinary = (header: object, chunks: Buffer[]) => sendBinary(base, 'mlp', header, chunks);

  test('round trip on the MLP: binary input, binary output, the same numbers as JSON', async () => {
    const rows = [features(7), features(8), features(9)];
    const x = Float32Array.from(rows.flat());
    const r = await inferBinary(
      {
        inputs: [{ name: 'x', shape: [3, 128], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }],
        outputs: [{ name: 'logits', parameters: { binary_data: true } }],
      },
      [Buffer.from(x.buffer)],
    );
    assert.equal(r.status, 200, JSON.stringify(r.head));
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    const out = r.head.outputs[0];
    assert.deepEqual(out, { name: 'logits', datatype: 'FP32', shape: [3, 10], parameters: { binary_data_size: 120 } });
    assert.equal(r.binary.length, 120);
    const logits = new Float32Array(new Uint8Array(r.binary).buffer);
    const json = await infer('mlp', mlpRequest(rows));
    json.body.outputs[0].data.forEach((v: number, i: number) => assert.ok(Math.abs(v - logits[i]) < 1e-5));
  });

  test('binary_data_output asks for every output in binary; JSON input with a binary reply works too', async () => {
    const r = await inferBinary(mlpRequest([features(1)], { parameters: { binary_data_output: true } }), []);
    assert.equal(r.status, 200);
    assert.equal(r.head.outputs[0].parameters.binary_data_size, 40);
    assert.equal(r.binary.length, 40);
  });

  test('binary sizes that do not add up, or do not fit the shape, are 400s', async () => {
    const x = Buffer.from(Float32Array.from(features(1)).buffer);
    const short = await inferBinary({ inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP32', parameters: { binary_data_size: 600 } }] }, [
      x,
    ]);
    assert.equal(short.status, 400);
    assert.match(short.head.error, /binary sizes do not add up: the inputs declare 600 bytes .* carries 512/);
    const shape = await inferBinary({ inputs: [{ name: 'x', shape: [2, 128], datatype: 'FP32', parameters: { binary_data_size: 512 } }] }, [
      x,
    ]);
    assert.equal(shape.status, 400);
    assert.match(shape.head.error, /binary_data_size of input "x" is 512 bytes; shape \[2, 128\] of FP32 needs 1024/);
  });
});

describe('bad input: a clear 400 each, nothing else in the batch affected', () => {
  const good = (seed: number) => mlpRequest([features(seed), features(seed + 1)]);
  const bads: { kind: string; body: unknown; status: number; error: RegExp }[] = [
    { kind: 'not JSON', body: '{"inputs": [', status: 400, error: /not valid JSON/ },
    {
      kind: 'schema',
      body: { inputs: [{ name: 'x', shape: '1,128', datatype: 'FP32', data: [] }] },
      status: 400,
      error: /inputs\.0\.shape/,
    },
    {
      kind: 'shape/data length',
      body: { inputs: [{ name: 'x', shape: [2, 128], datatype: 'FP32', data: features(1) }] },
      status: 400,
      error: /has 128 values but shape \[2, 128\] needs 256/,
    },
    {
      kind: 'wrong datatype',
      body: { inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP64', data: features(1) }] },
      status: 400,
      error: /input "x" of model "mlp" takes FP32, got FP64/,
    },
    {
      kind: 'BYTES on a numeric model',
      body: { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['hello'] }] },
      status: 400,
      error: /takes FP32, got BYTES/,
    },
    {
      kind: 'unknown input',
      body: { inputs: [{ name: 'input_0', shape: [1, 128], datatype: 'FP32', data: features(1) }] },
      status: 400,
      error: /model "mlp" has no input "input_0"; its inputs are "x"/,
    },
    { kind: 'missing input', body: { inputs: [] }, status: 400, error: /inputs/ },
    {
      kind: 'non-batch dimension',
      body: { inputs: [{ name: 'x', shape: [2, 64], datatype: 'FP32', data: features(1) }] },
      status: 400,
      error: /dimension 1 of input "x" must be 128/,
    },
    {
      kind: 'wrong depth',
      body: { inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP32', data: [[features(1)]] }] },
      status: 400,
      error: /nested 3 deep but its shape \[1, 128\] has 2 dimensions/,
    },
    {
      kind: 'non-numbers',
      body: { inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP32', data: [...features(1).slice(1), 'x'] }] },
      status: 400,
      error: /data\[127\] of input "x" is the string "x", not a number/,
    },
    {
      kind: 'huge shape',
      body: { inputs: [{ name: 'x', shape: [1e12, 128], datatype: 'FP32', data: [1] }] },
      status: 400,
      error: /elements: more than one request may carry/,
    },
    {
      kind: 'unknown output',
      body: mlpRequest([features(1)], { outputs: [{ name: 'probs' }] }),
      status: 400,
      error: /model "mlp" has no output "probs"; its outputs are "logits"/,
    },
    {
      kind: 'body over the limit',
      body: mlpRequest(Array.from({ length: 1000 }, () => features(1))),
      status: 413,
      error: /larger than the limit/,
    },
  ];

  test('each bad request among good v2 and function calls: good ones answered right, bad ones say why', async () => {
    const expected = await infer('mlp', good(0));
    const plan = Array.from({ length: 3 * bads.length }, (_, i) =>
      i % 3 === 1 ? { bad: bads[(i / 3) | 0] } : { good: i % 3 === 0 ? 'v2' : 'fn' },
    );
    const rs = await Promise.all(
      plan.map((p) =>
        'bad' in p
          ? infer('mlp', p.bad!.body)
          : p.good === 'v2'
            ? infer('mlp', good(0))
            : call(base, 'mlp-scores', { features: features(0) }),
      ),
    );
    let sharedWithBad = 0;
    rs.forEach((r, i) => {
      const p = plan[i];
      if ('bad' in p) {
        assert.equal(r.status, p.bad!.status, `${p.bad!.kind}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(Object.keys(r.body), ['error'], p.bad!.kind);
        assert.match(r.body.error, p.bad!.error, p.bad!.kind);
        return;
      }
      assert.equal(r.status, 200, `good call ${i}: ${JSON.stringify(r.body)}`);
      if (p.good === 'v2')
        r.body.outputs[0].data.forEach((v: number, k: number) => assert.ok(Math.abs(v - expected.body.outputs[0].data[k]) < 1e-4));
      else assert.equal(r.body.scores.length, 10);
      if (Number(r.headers.get('x-batch-size')) > 2) sharedWithBad++;
    });
    assert.ok(sharedWithBad > 0, 'the good calls batched together while the bad ones were refused');
  });

  test('an x-slo-ms that is not a positive number is a 400', async () => {
    const r = await infer('mlp', good(0), { 'x-slo-ms': 'soon' });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /x-slo-ms must be a positive number/);
  });
});

describe('cancellation', () => {
  test('a v2 client that leaves before dispatch takes all its rows out of the queue: no device time spent on them', async () => {
    const cancelled = () => metric(/edgebatch_requests_total\{function="v2:mlp",model="mlp",outcome="cancelled"\} (\d+)/);
    const items = () => metric(/edgebatch_batch_size_sum\{model="mlp"\} (\d+)/);
    const [c0, i0] = [await cancelled(), await items()];
    // The 60 ms queue delay holds the rows; the client leaves well before it ends.
    const ac = new AbortController();
    const gone = infer('mlp', mlpRequest(Array.from({ length: 8 }, (_, i) => features(i))), {}, ac.signal).catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 15));
    ac.abort();
    assert.ok((await gone) instanceof Error, 'the client saw its own abort');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await cancelled()) - c0, 1, 'the abandoned call is counted as cancelled');
    assert.equal((await items()) - i0, 0, 'none of its 8 rows reached the device');
  });
});

describe('admission on its own runtime', () => {
  let a: Serving;
  before(async () => {
    a = await startRuntime({
      models: { mlp: { ...shipped.models.mlp, v2Slo: '300ms' } },
      limits: { bodyBytes: 1024 * 1024, queueLength: 16 },
    });
  });
  after(() => a.stop());

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${a.url}/v2/models/mlp/infer`, { method: 'POST', headers, body });

  test('a call that cannot meet its deadline is refused at the door with 503 + Retry-After, before its body is read', async () => {
    // A body over the limit would be a 413 if it were read: the 503 shows it never was.
    const r = await post('x'.repeat(2 * 1024 * 1024), { 'x-slo-ms': '0.000001' });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    const body = (await r.json()) as any;
    assert.deepEqual(Object.keys(body), ['error']);
    assert.match(body.error, /a v2 call to "mlp" cannot meet its SLO/);
    // The connection stays usable and the next call is served.
    const ok = await post(JSON.stringify(mlpRequest([features(1)])));
    assert.equal(ok.status, 200);
  });

  test('more rows than the queue has room for: 503 + Retry-After', async () => {
    const r = await post(JSON.stringify(mlpRequest(Array.from({ length: 17 }, (_, i) => features(i)))));
    assert.equal(r.status, 503);
    assert.ok(r.headers.get('retry-after'));
    assert.match(((await r.json()) as any).error, /has room for \d+ items, this call has 17 rows/);
  });

  test('the configured v2Slo is the deadline of a v2 call', () => {
    assert.equal(a.runtime.v2SloMs('mlp'), 300);
  });
});
