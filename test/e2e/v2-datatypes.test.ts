/**
 * Every Open Inference Protocol datatype end to end: one real ONNX Identity model per datatype (written here
 * with onnx-proto), served by a real runtime, called over HTTP in JSON and in binary. Answers must come back
 * exactly as sent (the model is y = x), rows of concurrent calls must share a batch, and a tensor of the
 * wrong datatype is still a 400 naming both types.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import onnxProto from 'onnx-proto';
import { writeIdentityModel } from '../helpers/fault-model.ts';
import { startRuntime } from '../helpers/serve.ts';
import { inferBinary as sendBinary } from '../helpers/v2.ts';

const T = onnxProto.onnx.TensorProto.DataType;

/** Per datatype: its ONNX element type, three values for a row of [3] (two rows are sent), and their bytes. */
interface Case {
  readonly elem: number;
  readonly rows: [unknown[], unknown[]];
  /** The little-endian bytes of both rows, written here independently of the runtime's codec. */
  readonly bytes: () => Buffer;
}

const le = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const numeric = (elem: number, rows: [number[], number[]], Array: { from(v: number[]): ArrayBufferView }): Case => ({
  elem,
  rows,
  bytes: () => le(Array.from(rows.flat())),
});
const big = (elem: number, rows: [number[], number[]], Array: { from(v: bigint[]): ArrayBufferView }): Case => ({
  elem,
  rows,
  bytes: () => le(Array.from(rows.flat().map(BigInt))),
});
const lengthPrefixed = (strings: string[]) =>
  Buffer.concat(
    strings.flatMap((s) => {
      const b = Buffer.from(s, 'utf8');
      const n = Buffer.alloc(4);
      n.writeUInt32LE(b.length);
      return [n, b];
    }),
  );

const cases: Record<string, Case> = {
  BOOL: {
    elem: T.BOOL,
    rows: [
      [true, false, true],
      [false, false, true],
    ],
    bytes: () => Buffer.from([1, 0, 1, 0, 0, 1]),
  },
  UINT8: numeric(
    T.UINT8,
    [
      [0, 255, 7],
      [1, 2, 3],
    ],
    Uint8Array,
  ),
  UINT16: numeric(
    T.UINT16,
    [
      [0, 65535, 300],
      [1, 2, 3],
    ],
    Uint16Array,
  ),
  UINT32: numeric(
    T.UINT32,
    [
      [0, 2 ** 32 - 1, 5],
      [1, 2, 3],
    ],
    Uint32Array,
  ),
  UINT64: big(
    T.UINT64,
    [
      [0, 2 ** 53 - 1, 42],
      [1, 2, 3],
    ],
    BigUint64Array,
  ),
  INT8: numeric(
    T.INT8,
    [
      [-128, 127, 0],
      [1, -2, 3],
    ],
    Int8Array,
  ),
  INT16: numeric(
    T.INT16,
    [
      [-32768, 32767, -1],
      [1, -2, 3],
    ],
    Int16Array,
  ),
  INT32: numeric(
    T.INT32,
    [
      [-(2 ** 31), 2 ** 31 - 1, 0],
      [1, -2, 3],
    ],
    Int32Array,
  ),
  INT64: big(
    T.INT64,
    [
      [-(2 ** 53 - 1), 2 ** 53 - 1, -7],
      [1, -2, 3],
    ],
    BigInt64Array,
  ),
  // Exactly representable halves; FP16's bytes are its bit patterns (1.5 = 0x3e00, -2 = 0xc000, ...).
  FP16: {
    elem: T.FLOAT16,
    rows: [
      [1.5, -2, 65504],
      [0.333251953125, 2 ** -24, 0],
    ],
    bytes: () => le(Uint16Array.of(0x3e00, 0xc000, 0x7bff, 0x3555, 0x0001, 0)),
  },
  FP32: numeric(
    T.FLOAT,
    [
      [1.5, -2.25, Math.fround(3.4e38)],
      [Math.fround(0.1), 0, -1],
    ],
    Float32Array,
  ),
  FP64: numeric(
    T.DOUBLE,
    [
      [Math.PI, -1e300, 5e-324],
      [0.1, 0, -1],
    ],
    Float64Array,
  ),
  BYTES: {
    elem: T.STRING,
    rows: [
      ['héllo', '', 'a longer string'],
      ['x', 'ÿ€😀', 'z'],
    ],
    bytes: () => lengthPrefixed(['héllo', '', 'a longer string', 'x', 'ÿ€😀', 'z']),
  },
};
const datatypes = Object.keys(cases);
const model = (d: string) => `id-${d.toLowerCase()}`;

let s: Serving;
let base: string;

before(async () => {
  mkdirSync('test/tmp', { recursive: true });
  const dir = mkdtempSync(path.join('test/tmp', 'datatypes-'));
  const fnDir = path.join(dir, 'functions');
  mkdirSync(fnDir);
  const models: Record<string, object> = {};
  // A 60 ms queue delay gathers concurrent calls into one batch the same way on any machine.
  const gather = { policy: 'fixed-delay' as const, fixedDelay: { maxQueueDelay: '60ms' as const, preferredBatchSize: 64 }, maxBatch: 64 };
  for (const d of datatypes) {
    const file = path.resolve(dir, `${model(d)}.onnx`);
    writeIdentityModel(file, cases[d].elem);
    models[model(d)] = { file, ...gather };
  }
  // Strings with a dynamic width: rows of different widths cannot be padded into one batch.
  const ragged = path.resolve(dir, 'id-bytes-ragged.onnx');
  writeIdentityModel(ragged, T.STRING, ['N', 'L']);
  models['id-bytes-ragged'] = { file: ragged, ...gather };
  s = await startRuntime({ scheduler: { admission: false }, functionsDir: path.resolve(fnDir), models: models as never });
  base = s.url;
});
after(() => s?.stop());

async function inferJson(name: string, body: unknown) {
  const res = await fetch(`${base}/v2/models/${name}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const inferBinary = (name: string, header: object, chunks: Buffer[]) => sendBinary(base, name, header, chunks);

describe('every datatype through a real model', () => {
  test('metadata reports each model input and output with its datatype', async () => {
    for (const d of datatypes) {
      const meta = (await (await fetch(`${base}/v2/models/${model(d)}`)).json()) as any;
      assert.deepEqual(meta.inputs, [{ name: 'x', datatype: d, shape: [-1, 3] }], d);
      assert.deepEqual(meta.outputs, [{ name: 'y', datatype: d, shape: [-1, 3] }], d);
    }
  });

  for (const d of datatypes) {
    test(`${d}: JSON in, JSON out, exactly as sent`, async () => {
      const { rows } = cases[d];
      const r = await inferJson(model(d), { inputs: [{ name: 'x', shape: [2, 3], datatype: d, data: rows }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.outputs, [{ name: 'y', datatype: d, shape: [2, 3], data: rows.flat() }]);
    });

    test(`${d}: binary in, binary out, the same bytes; and binary in, JSON out`, async () => {
      const bytes = cases[d].bytes();
      const input = { name: 'x', shape: [2, 3], datatype: d, parameters: { binary_data_size: bytes.length } };
      const r = await inferBinary(model(d), { inputs: [input], parameters: { binary_data_output: true } }, [bytes]);
      assert.equal(r.status, 200, JSON.stringify(r.head));
      assert.deepEqual(r.head.outputs, [{ name: 'y', datatype: d, shape: [2, 3], parameters: { binary_data_size: bytes.length } }]);
      assert.deepEqual(r.binary, bytes);
      const j = await inferBinary(model(d), { inputs: [input] }, [bytes]);
      assert.equal(j.status, 200, JSON.stringify(j.head));
      assert.deepEqual(j.head.outputs[0].data, cases[d].rows.flat());
    });

    test(`${d}: rows of concurrent calls, JSON and binary, ride in one batch`, async () => {
      const { rows } = cases[d];
      const bytes = cases[d].bytes();
      const calls = [
        inferJson(model(d), { inputs: [{ name: 'x', shape: [1, 3], datatype: d, data: rows[0] }] }),
        inferJson(model(d), { inputs: [{ name: 'x', shape: [1, 3], datatype: d, data: rows[1] }] }),
        inferBinary(model(d), { inputs: [{ name: 'x', shape: [2, 3], datatype: d, parameters: { binary_data_size: bytes.length } }] }, [
          bytes,
        ]),
      ];
      const [a, b, c] = await Promise.all(calls);
      for (const r of [a, b, c]) {
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('x-batch-size'), '4', `${d}: all four rows in one batch`);
      }
      assert.deepEqual((a as any).body.outputs[0].data, rows[0]);
      assert.deepEqual((b as any).body.outputs[0].data, rows[1]);
      assert.deepEqual((c as any).head.outputs[0].data, rows.flat());
    });
  }

  test('a wrong datatype for the model input is a 400 naming both types', async () => {
    for (const [want, sent, data] of [
      ['INT16', 'FP32', [1, 2, 3]],
      ['BOOL', 'UINT8', [1, 0, 1]],
      ['FP16', 'FP32', [1, 2, 3]],
      ['BYTES', 'INT8', [1, 2, 3]],
      ['UINT64', 'BYTES', ['a', 'b', 'c']],
    ] as const) {
      const r = await inferJson(model(want), { inputs: [{ name: 'x', shape: [1, 3], datatype: sent, data }] });
      assert.equal(r.status, 400, `${sent} to ${want}`);
      assert.match(r.body.error, new RegExp(`takes ${want}, got ${sent}`));
    }
  });

  test('JSON values a datatype cannot hold are 400s naming the element; binary carries 64-bit integers in full', async () => {
    const bad: [string, unknown[], RegExp][] = [
      ['UINT64', [2 ** 53, 0, 0], /data\[0\] of input "x" is 9007199254740992, not a UINT64 .*binary/],
      ['INT64', [0, -(2 ** 60), 0], /data\[1\] .*not a INT64/],
      ['BOOL', [1, 0, true], /data\[0\] of input "x" is 1, not true or false/],
      ['BYTES', ['a', 2, 'c'], /data\[1\] of input "x" is 2, not a string/],
      ['UINT16', [0, 70000, 0], /not a UINT16 \(an integer from 0 to 65535\)/],
    ];
    for (const [d, data, error] of bad) {
      const r = await inferJson(model(d), { inputs: [{ name: 'x', shape: [1, 3], datatype: d, data }] });
      assert.equal(r.status, 400, d);
      assert.match(r.body.error, error);
    }
    const full = le(BigUint64Array.of(2n ** 64n - 1n, 2n ** 53n + 1n, 0n));
    const r = await inferBinary(
      model('UINT64'),
      {
        inputs: [{ name: 'x', shape: [1, 3], datatype: 'UINT64', parameters: { binary_data_size: 24 } }],
        parameters: { binary_data_output: true },
      },
      [full],
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.binary, full);
  });

  test('FP16 from JSON numbers that are not halves: rounded to the nearest half', async () => {
    const data = [0.1, -1234.567, 3.14159];
    const r = await inferJson(model('FP16'), { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP16', data }] });
    assert.equal(r.status, 200);
    assert.equal(r.body.outputs[0].data.length, data.length, 'every element comes back');
    r.body.outputs[0].data.forEach((v: number, i: number) =>
      assert.ok(Math.abs(v - data[i]) <= Math.abs(data[i]) * 2 ** -11, `${v} vs ${data[i]}`),
    );
    // None of these is a half: each must come back as the nearest one, not as sent.
    assert.deepEqual(r.body.outputs[0].data, [0.0999755859375, -1235, 3.140625]);
    r.body.outputs[0].data.forEach((v: number, i: number) => assert.notEqual(v, data[i], 'rounded'));
  });

  test('BYTES binary whose length prefixes do not add up is a 400', async () => {
    const bytes = Buffer.concat([lengthPrefixed(['ab', 'cd']), Buffer.from([9, 0, 0, 0, 1])]);
    const r = await inferBinary(
      model('BYTES'),
      { inputs: [{ name: 'x', shape: [1, 3], datatype: 'BYTES', parameters: { binary_data_size: bytes.length } }] },
      [bytes],
    );
    assert.equal(r.status, 400);
    assert.match(r.head.error, /element 2 of BYTES input "x" says 9 bytes but only 1 remain/);
  });

  test('string rows of different widths are not padded: each width rides in a batch of its own', async () => {
    const send = (row: string[]) =>
      inferJson('id-bytes-ragged', { inputs: [{ name: 'x', shape: [1, row.length], datatype: 'BYTES', data: row }] });
    const [a, b, c] = await Promise.all([send(['a', 'b']), send(['c', 'd', 'e']), send(['f', 'g'])]);
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 200]);
    assert.deepEqual(a.body.outputs[0].data, ['a', 'b']);
    assert.deepEqual(b.body.outputs[0].data, ['c', 'd', 'e']);
    assert.deepEqual(c.body.outputs[0].data, ['f', 'g']);
    assert.equal(b.headers.get('x-batch-size'), '1');
    assert.equal(a.headers.get('x-batch-size'), '2', 'the two rows of width 2 share a batch');
  });
});
