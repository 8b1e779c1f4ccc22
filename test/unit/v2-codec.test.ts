/**
 * The pure parts of the v2 protocol: datatype mapping, the request schema, decoding tensors into rows with
 * every check a bad request must fail, binary framing, and putting outputs back together.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ModelMeta } from '../../runtime/lanes/protocol.ts';
import { binaryChunks, joinBody, splitBody } from '../../runtime/server/v2/binary.ts';
import { chooseOutputs, decodeRows, encodeOutput, gatherOutput, shapeProblem } from '../../runtime/server/v2/codec.ts';
import { fromHalf, toHalf } from '../../runtime/models/half.ts';
import { carrier, fromOrtType, isV2Datatype, jsonElement, jsonValue, v2Datatypes } from '../../runtime/server/v2/datatypes.ts';
import { modelMetadata } from '../../runtime/server/v2/metadata.ts';
import { parseInferenceRequest, type RequestInput } from '../../runtime/server/v2/schema.ts';

/** Rows' `x` gathered back as the output `y`, as a v2 reply puts a batch's rows together. */
const outputOf = (rows: ReturnType<typeof decodeRows>) =>
  gatherOutput(
    'y',
    rows.map((r) => r.x),
  );

const meta: ModelMeta = {
  inputs: [{ name: 'x', type: 'float32', shape: ['N', 2, 3] }],
  outputs: [
    { name: 'y', type: 'float32', shape: ['N', 2] },
    { name: 'z', type: 'int64', shape: ['N'] },
  ],
};
const limits = { maxElements: 1000 };
const x = (over: Partial<RequestInput> = {}): RequestInput => ({
  name: 'x',
  datatype: 'FP32',
  shape: [2, 2, 3],
  data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  ...over,
});
const decode = (inputs: RequestInput[], chunks: (Buffer | undefined)[] = [], m = meta) => decodeRows(inputs, chunks, m, 'm', limits);
const refuses = (inputs: RequestInput[], pattern: RegExp, chunks: (Buffer | undefined)[] = [], m = meta) =>
  assert.throws(
    () => decode(inputs, chunks, m),
    (err: any) => err.status === 400 && pattern.test(err.message),
  );

describe('datatypes', () => {
  test('every v2 datatype maps to an onnxruntime type and back', () => {
    for (const d of v2Datatypes) assert.ok(isV2Datatype(d));
    assert.equal(fromOrtType('float32'), 'FP32');
    assert.equal(fromOrtType('int64'), 'INT64');
    assert.equal(fromOrtType('float16'), 'FP16');
    assert.equal(fromOrtType('string'), 'BYTES');
    assert.equal(fromOrtType('bool'), 'BOOL');
    assert.equal(isV2Datatype('FLOAT'), false);
    assert.equal(isV2Datatype('toString'), false);
  });

  test('every datatype has a carrier: its typed array (none for BYTES), integers with their range', () => {
    const arrays = {
      BOOL: Uint8Array,
      UINT8: Uint8Array,
      UINT16: Uint16Array,
      UINT32: Uint32Array,
      UINT64: BigUint64Array,
      INT8: Int8Array,
      INT16: Int16Array,
      INT32: Int32Array,
      INT64: BigInt64Array,
      FP16: Uint16Array,
      FP32: Float32Array,
      FP64: Float64Array,
      BYTES: undefined,
    };
    for (const d of v2Datatypes) {
      assert.equal(carrier(d).array, arrays[d], d);
      assert.equal(fromOrtType(carrier(d).ort), d);
    }
    assert.deepEqual(carrier('UINT8').range, [0, 255]);
    assert.deepEqual(carrier('UINT64').range, [0, Number.MAX_SAFE_INTEGER]);
    assert.equal(carrier('BOOL').tag, 'bool');
    assert.equal(carrier('FP16').tag, 'float16');
    assert.equal(carrier('UINT16').tag, undefined);
  });

  test('JSON elements: BOOL true/false, BYTES strings, 64-bit integers to 2^53, FP16 rounded', () => {
    assert.equal(jsonElement('BOOL', true), 1);
    assert.equal(jsonElement('BOOL', false), 0);
    assert.match((jsonElement('BOOL', 1) as { why: string }).why, /not true or false/);
    assert.equal(jsonElement('BYTES', 'héllo'), 'héllo');
    assert.match((jsonElement('BYTES', 3) as { why: string }).why, /not a string/);
    assert.equal(jsonElement('UINT64', 2 ** 53 - 1), BigInt(2 ** 53 - 1));
    assert.match((jsonElement('UINT64', 2 ** 53) as { why: string }).why, /not a UINT64 .*send larger ones as binary/);
    assert.match((jsonElement('INT64', -(2 ** 53)) as { why: string }).why, /not a INT64/);
    assert.match((jsonElement('UINT16', 65536) as { why: string }).why, /from 0 to 65535/);
    assert.match((jsonElement('INT16', 1.5) as { why: string }).why, /integer/);
    assert.equal(jsonElement('FP16', 1.5), 0x3e00);
    assert.equal(jsonValue('BOOL', 1), true);
    assert.equal(jsonValue('FP16', 0x3e00), 1.5);
    assert.equal(jsonValue('INT64', -5n), -5);
  });

  test('half precision: exact values, rounding to even, subnormals, infinities and NaN', () => {
    const cases: [number, number][] = [
      [0, 0],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [0.333251953125, 0x3555],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [1e6, 0x7c00],
    ];
    for (const [v, h] of cases) {
      assert.equal(toHalf(v), h, `toHalf(${v})`);
      if (Math.abs(v) <= 65504) assert.equal(fromHalf(h), v, `fromHalf(${h})`);
    }
    assert.equal(toHalf(1 + 2 ** -11), 0x3c00, 'a tie rounds to the even mantissa');
    assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02, 'a tie rounds up to the even mantissa');
    assert.equal(toHalf(2 ** -26), 0, 'below the smallest subnormal rounds to zero');
    assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
    for (let i = 0; i < 2000; i++) {
      const v = (Math.random() - 0.5) * 1000;
      assert.ok(Math.abs(fromHalf(toHalf(v)) - v) <= Math.abs(v) * 2 ** -11, `${v}`);
    }
  });
});

describe('request schema', () => {
  test('a good request parses; bad JSON and a bad field are 400s naming what is wrong', () => {
    const r = parseInferenceRequest(Buffer.from(JSON.stringify({ id: 'a', inputs: [x()] })));
    assert.equal(r.id, 'a');
    assert.throws(
      () => parseInferenceRequest(Buffer.from('{')),
      (e: any) => e.status === 400 && /not valid JSON/.test(e.message),
    );
    assert.throws(
      () => parseInferenceRequest(Buffer.from('{"inputs":[]}')),
      (e: any) => e.status === 400 && /inputs/.test(e.message),
    );
    assert.throws(
      () => parseInferenceRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[1.5]}]}')),
      (e: any) => /inputs\.0\.shape\.0/.test(e.message),
    );
    assert.throws(
      () => parseInferenceRequest(Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[-1]}]}')),
      (e: any) => /inputs\.0\.shape\.0/.test(e.message),
    );
  });
});

describe('decoding into rows', () => {
  test('flat data of shape [2, 2, 3] becomes two rows of [2, 3], in order', () => {
    const rows = decode([x()]);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0].x.dims, [2, 3]);
    assert.deepEqual([...rows[0].x.data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...rows[1].x.data], [7, 8, 9, 10, 11, 12]);
    assert.ok(rows[0].x.data instanceof Float32Array);
  });

  test('nested data exactly as deep as the shape gives the same rows', () => {
    const nested = [
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [
        [7, 8, 9],
        [10, 11, 12],
      ],
    ];
    assert.deepEqual(
      decode([x({ data: nested })]).map((r) => [...r.x.data]),
      decode([x()]).map((r) => [...r.x.data]),
    );
  });

  test('shape and data length that disagree', () => {
    refuses([x({ data: [1, 2, 3] })], /has 3 values but shape \[2, 2, 3\] needs 12/);
  });

  test('nested data of the wrong depth or with a wrong length at some level', () => {
    refuses(
      [
        x({
          data: [
            [1, 2, 3, 4, 5, 6],
            [7, 8, 9, 10, 11, 12],
          ],
        }),
      ],
      /nested 2 deep but its shape \[2, 2, 3\] has 3 dimensions/,
    );
    refuses(
      [
        x({
          data: [
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
            [[7, 8, 9]],
          ],
        }),
      ],
      /data\[1\] of input "x" has 1 entries but shape \[2, 2, 3\] says 2/,
    );
    refuses(
      [
        x({
          data: [
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
            [7, [8, 9, 10]],
          ],
        }),
      ],
      /data\[1\]\[0\] of input "x" is number 7, expected an array/,
    );
  });

  test('non-numbers, and integers out of their datatype range', () => {
    refuses([x({ data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 'twelve'] })], /data\[11\] of input "x" is the string "twelve", not a number/);
    refuses([x({ data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, null] })], /is null, not a number/);
    refuses([x({ data: 'abc' })], /data of input "x" must be an array/);
    const int8: ModelMeta = { inputs: [{ name: 'x', type: 'int8', shape: ['N', 2] }], outputs: [] };
    refuses(
      [{ name: 'x', datatype: 'INT8', shape: [1, 2], data: [1, 300] }],
      /is 300, not a INT8 \(an integer from -128 to 127\)/,
      [],
      int8,
    );
    refuses([{ name: 'x', datatype: 'INT8', shape: [1, 2], data: [1, 0.5] }], /not a INT8/, [], int8);
    assert.deepEqual([...decode([{ name: 'x', datatype: 'INT8', shape: [1, 2], data: [-128, 127] }], [], int8)[0].x.data], [-128, 127]);
  });

  test('INT64 arrives as BigInt64Array', () => {
    const i64: ModelMeta = { inputs: [{ name: 'ids', type: 'int64', shape: ['N', 2] }], outputs: [] };
    const rows = decode([{ name: 'ids', datatype: 'INT64', shape: [1, 2], data: [3, -4] }], [], i64);
    assert.deepEqual([...rows[0].ids.data], [3n, -4n]);
  });

  test('wrong datatype for the model input, an unknown datatype, BYTES on a numeric model', () => {
    refuses([x({ datatype: 'INT32' })], /input "x" of model "m" takes FP32, got INT32/);
    refuses([x({ datatype: 'FLOAT' })], /datatype "FLOAT" of input "x" is not one of BOOL/);
    refuses([x({ datatype: 'BYTES', data: ['a'] })], /takes FP32, got BYTES/);
  });

  test('unknown input name, missing input, an input given twice', () => {
    refuses([x({ name: 'input' })], /model "m" has no input "input"; its inputs are "x"/);
    const two: ModelMeta = { inputs: [...meta.inputs, { name: 'w', type: 'float32', shape: ['N', 1] }], outputs: [] };
    refuses([x()], /input "w" of model "m" is missing/, [], two);
    refuses([x(), x()], /input "x" is given twice/);
  });

  test('inputs that disagree on the batch dimension', () => {
    const two: ModelMeta = { inputs: [...meta.inputs, { name: 'w', type: 'float32', shape: ['N', 1] }], outputs: [] };
    refuses(
      [x(), { name: 'w', datatype: 'FP32', shape: [3, 1], data: [1, 2, 3] }],
      /inputs disagree on the batch dimension: "x" has 2 rows, "w" has 3/,
      [],
      two,
    );
  });

  test('a non-batch dimension that differs from the model, a wrong rank, no rows', () => {
    refuses([x({ shape: [2, 3, 2] })], /dimension 1 of input "x" must be 2 \(model shape \[-1, 2, 3\]\), got \[2, 3, 2\]/);
    refuses([x({ shape: [12] })], /must have 3 dimensions, shape \[-1, 2, 3\], got \[12\]/);
    refuses([x({ shape: [0, 2, 3], data: [] })], /batch dimension of 0/);
    assert.equal(shapeProblem('x', [5, 2, 3], meta.inputs[0].shape), undefined);
  });

  test('a huge shape is refused before anything is allocated', () => {
    const dynamic: ModelMeta = { inputs: [{ name: 'x', type: 'float32', shape: ['N', 'W'] }], outputs: [] };
    refuses(
      [{ name: 'x', datatype: 'FP32', shape: [1e6, 1e9], data: [1] }],
      /1000000000000000 elements: more than one request may carry \(1000\)/,
      [],
      dynamic,
    );
  });

  test('a number beyond what FP32 or FP16 holds is refused, naming the element; binary NaN and Infinity too', () => {
    refuses(
      [x({ data: [1, 2, 3, 4, 1e308, 6, 7, 8, 9, 10, 11, 12] })],
      /data\[4\] of input "x" is 1e\+308, beyond what FP32 holds \(at most ±3\.4028234663852886e\+38\)/,
    );
    refuses([x({ data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -3.5e38] })], /data\[11\] of input "x" is -3\.5e\+38, beyond what FP32 holds/);
    assert.equal(
      (decode([x({ data: [3.4028234663852886e38, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] })])[0].x.data as Float32Array)[0],
      3.4028234663852886e38,
      'the largest float32 itself is taken',
    );
    assert.equal(
      (decode([x({ data: [3.4028235e38, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] })])[0].x.data as Float32Array)[0],
      3.4028234663852886e38,
      'and as other languages print it, which rounds to it',
    );
    refuses(
      [x({ data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3.4028236e38] })],
      /data\[11\] of input "x" is 3\.4028236e\+38, beyond what FP32 holds/,
    );
    const half: ModelMeta = { inputs: [{ name: 'h', type: 'float16', shape: ['N', 2] }], outputs: [] };
    refuses(
      [{ name: 'h', datatype: 'FP16', shape: [1, 2], data: [65504, 70000] }],
      /data\[1\] of input "h" is 70000, beyond what FP16 holds \(at most ±65504\)/,
      [],
      half,
    );
    assert.deepEqual(
      Array.from(decode([{ name: 'h', datatype: 'FP16', shape: [1, 2], data: [65519, -65519] }], [], half)[0].h.data as Uint16Array),
      [0x7bff, 0xfbff],
      'a value that rounds to the largest half is taken, as the conversion rounds it',
    );
    refuses(
      [{ name: 'h', datatype: 'FP16', shape: [1, 2], data: [1, 65520] }],
      /data\[1\] of input "h" is 65520, beyond what FP16 holds/,
      [],
      half,
    );
    for (const bad of [NaN, Infinity, -Infinity]) {
      const floats = Float32Array.from({ length: 12 }, (_, i) => (i === 7 ? bad : i));
      refuses([x({ data: undefined, parameters: { binary_data_size: 48 } })], /element 7 of input "x" \(binary FP32\) is NaN or Infinity/, [
        Buffer.from(floats.buffer),
      ]);
    }
    refuses(
      [{ name: 'h', datatype: 'FP16', shape: [1, 2], parameters: { binary_data_size: 4 } }],
      /element 1 of input "h" \(binary FP16\) is NaN or Infinity/,
      [Buffer.from(Uint16Array.of(0x3c00, 0xfc00).buffer)],
      half,
    );
  });

  test('data missing, or sent both inline and as binary', () => {
    refuses([x({ data: undefined })], /input "x" has no data/);
    refuses([x()], /both data and binary_data_size/, [Buffer.alloc(48)]);
  });
});

describe('binary framing', () => {
  const floats = Float32Array.from({ length: 12 }, (_, i) => i + 0.5);
  const bin = Buffer.from(floats.buffer);

  test('a JSON header and binary bytes split by Inference-Header-Content-Length decode to the same rows', () => {
    const header = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2, 3], parameters: { binary_data_size: 48 } }] });
    const { body, headerLength } = joinBody(header, [bin]);
    const { json, binary } = splitBody(body, String(headerLength));
    const req = parseInferenceRequest(json);
    const rows = decode(req.inputs, binaryChunks(req.inputs, binary));
    assert.deepEqual([...rows[1].x.data], [...floats.subarray(6)]);
  });

  test('sizes that do not add up, and a header length past the body, are refused', () => {
    const input = [{ name: 'x', parameters: { binary_data_size: 40 } }];
    assert.throws(() => binaryChunks(input, bin), /binary sizes do not add up: the inputs declare 40 bytes .* carries 48/);
    assert.throws(
      () => binaryChunks([{ name: 'x', parameters: { binary_data_size: -1 } }], bin),
      /binary_data_size of "x" must be a byte count/,
    );
    assert.throws(() => splitBody(bin, '49'), /is 49 but the body has only 48 bytes/);
    assert.throws(() => splitBody(bin, 'abc'), /must be a byte count/);
    // Sizes that add up but do not fit the shape: the codec refuses them.
    refuses(
      [x({ data: undefined, parameters: { binary_data_size: 44 } })],
      /binary_data_size of input "x" is 44 bytes; shape \[2, 2, 3\] of FP32 needs 48/,
      [bin.subarray(0, 44)],
    );
  });
});

describe('outputs', () => {
  test('requested outputs must exist; binary per output or for the whole request', () => {
    assert.deepEqual(chooseOutputs(undefined, undefined, meta, 'm'), [
      { name: 'y', binary: false },
      { name: 'z', binary: false },
    ]);
    assert.deepEqual(
      chooseOutputs([{ name: 'z', parameters: { binary_data: false } }, { name: 'y' }], { binary_data_output: true }, meta, 'm'),
      [
        { name: 'z', binary: false },
        { name: 'y', binary: true },
      ],
    );
    assert.throws(
      () => chooseOutputs([{ name: 'nope' }], undefined, meta, 'm'),
      /model "m" has no output "nope"; its outputs are "y", "z"/,
    );
  });

  test('rows are put back together as [n, ...], as JSON numbers or as raw bytes', () => {
    const g = gatherOutput('y', [
      { data: Float32Array.of(1, 2), dims: [2] },
      { data: Float32Array.of(3, 4), dims: [2] },
    ]);
    assert.deepEqual(g.shape, [2, 2]);
    assert.equal(g.datatype, 'FP32');
    assert.deepEqual(encodeOutput(g, false).tensor, { name: 'y', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4] });
    const b = encodeOutput(g, true);
    assert.deepEqual(b.tensor, { name: 'y', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 16 } });
    assert.deepEqual([...new Float32Array(new Uint8Array(b.chunk!).buffer)], [1, 2, 3, 4]);
    const z = gatherOutput('z', [{ data: BigInt64Array.of(7n), dims: [] }]);
    assert.deepEqual(encodeOutput(z, false).tensor, { name: 'z', datatype: 'INT64', shape: [1], data: [7] });
  });

  test('model metadata: v2 datatypes and -1 for dynamic dimensions', () => {
    assert.deepEqual(modelMetadata('m', meta), {
      name: 'm',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2, 3] }],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [-1, 2] },
        { name: 'z', datatype: 'INT64', shape: [-1] },
      ],
    });
  });
});

describe('datatypes beyond the numeric ones', () => {
  const typed = (type: string, shape: (number | string)[] = ['N', 2]): ModelMeta => ({
    inputs: [{ name: 'x', type, shape }],
    outputs: [{ name: 'y', type, shape }],
  });

  test('BOOL rows are tagged bool, from JSON true/false or one byte each in binary', () => {
    const rows = decodeRows(
      [
        {
          name: 'x',
          datatype: 'BOOL',
          shape: [2, 2],
          data: [
            [true, false],
            [false, true],
          ],
        },
      ],
      [],
      typed('bool'),
      'm',
      limits,
    );
    assert.deepEqual(
      rows.map((r) => [...(r.x.data as Uint8Array)]),
      [
        [1, 0],
        [0, 1],
      ],
    );
    assert.equal(rows[0].x.type, 'bool');
    const bin = decodeRows(
      [{ name: 'x', datatype: 'BOOL', shape: [1, 2], parameters: { binary_data_size: 2 } }],
      [Buffer.from([0, 7])],
      typed('bool'),
      'm',
      limits,
    );
    assert.deepEqual([...(bin[0].x.data as Uint8Array)], [0, 1]);
    const out = outputOf(rows);
    assert.deepEqual(encodeOutput(out, false).tensor, { name: 'y', datatype: 'BOOL', shape: [2, 2], data: [true, false, false, true] });
  });

  test('BYTES rows are strings; binary is length-prefixed both ways and must add up', () => {
    const chunk = Buffer.from([2, 0, 0, 0, 0x68, 0x69, 0, 0, 0, 0]);
    const rows = decodeRows(
      [{ name: 'x', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: chunk.length } }],
      [chunk],
      typed('string'),
      'm',
      limits,
    );
    assert.deepEqual(rows[0].x.data, ['hi', '']);
    assert.deepEqual(encodeOutput(outputOf(rows), true).chunk, chunk);
    refuses(
      [{ name: 'x', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: 6 } }],
      /ends at element 1 of 2/,
      [chunk.subarray(0, 6)],
      typed('string'),
    );
    refuses(
      [{ name: 'x', datatype: 'BYTES', shape: [1, 2], parameters: { binary_data_size: 11 } }],
      /1 bytes left after its 2 elements/,
      [Buffer.concat([chunk, Buffer.from([1])])],
      typed('string'),
    );
  });

  test('FP16 rows are tagged float16 bit patterns; JSON out gives the numbers back', () => {
    const rows = decodeRows([{ name: 'x', datatype: 'FP16', shape: [1, 2], data: [1.5, -2] }], [], typed('float16'), 'm', limits);
    assert.deepEqual([...(rows[0].x.data as Uint16Array)], [0x3e00, 0xc000]);
    assert.equal(rows[0].x.type, 'float16');
    assert.deepEqual(encodeOutput(outputOf(rows), false).tensor.data, [1.5, -2]);
  });

  test('UINT64 beyond 2^53 in JSON is refused naming the element; 64-bit outputs come back as numbers', () => {
    refuses(
      [{ name: 'x', datatype: 'UINT64', shape: [1, 2], data: [1, 2 ** 60] }],
      /data\[1\] of input "x" is 1152921504606847000, not a UINT64/,
      [],
      typed('uint64'),
    );
    const rows = decodeRows([{ name: 'x', datatype: 'UINT64', shape: [1, 2], data: [1, 2 ** 53 - 1] }], [], typed('uint64'), 'm', limits);
    assert.deepEqual(encodeOutput(outputOf(rows), false).tensor.data, [1, 2 ** 53 - 1]);
  });
});
