import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canShareBatch, dataType, elementType, firstNonFinite, shapeMismatch, stack, tagOf, unstack } from '../../runtime/models/tensor.ts';

test('stack puts items of equal shape one after another and unstack gives them back in order', () => {
  const a = { data: Float32Array.of(1, 2, 3, 4), dims: [2, 2] };
  const b = { data: Float32Array.of(5, 6, 7, 8), dims: [2, 2] };
  const batch = stack([a, b]);
  assert.deepEqual(batch.dims, [2, 2, 2]);
  assert.deepEqual([...batch.data], [1, 2, 3, 4, 5, 6, 7, 8]);
  const [x, y] = unstack(batch, 2);
  assert.deepEqual([...x.data], [1, 2, 3, 4]);
  assert.deepEqual([...y.data], [5, 6, 7, 8]);
  assert.deepEqual(y.dims, [2, 2]);
});

test('items that differ in a dimension are padded at the end of that axis with the pad value', () => {
  const narrow = { data: Float32Array.of(1, 2, 3, 4), dims: [2, 2] }; // rows [1,2] [3,4]
  const wide = { data: Float32Array.of(5, 6, 7, 8, 9, 10), dims: [2, 3] };
  const batch = stack([narrow, wide], -1);
  assert.deepEqual(batch.dims, [2, 2, 3]);
  assert.deepEqual([...batch.data], [1, 2, -1, 3, 4, -1, 5, 6, 7, 8, 9, 10]);
});

test('padding works on inner axes of rank-3 items (channels x height x width)', () => {
  const item = { data: Float32Array.from({ length: 2 * 1 * 2 }, (_, i) => i + 1), dims: [2, 1, 2] };
  const big = { data: new Float32Array(2 * 2 * 3).fill(9), dims: [2, 2, 3] };
  const batch = stack([item, big], 0);
  assert.deepEqual([...(batch.data as Float32Array).subarray(0, 12)], [1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0]);
});

test('int64 items stack as BigInt64Array', () => {
  const batch = stack([
    { data: BigInt64Array.of(3n), dims: [] },
    { data: BigInt64Array.of(4n), dims: [] },
  ]);
  assert.ok(batch.data instanceof BigInt64Array);
  assert.deepEqual(batch.dims, [2]);
});

test('shapeMismatch explains a wrong rank, a wrong fixed dimension or a wrong value count', () => {
  const spec = ['N', 3, 48, 'W'];
  assert.equal(shapeMismatch({ data: new Float32Array(3 * 48 * 100), dims: [3, 48, 100] }, spec, 'x'), undefined);
  assert.match(shapeMismatch({ data: new Float32Array(48 * 100), dims: [48, 100] }, spec, 'x')!, /must have shape \[3, 48, \?\] per item/);
  assert.match(shapeMismatch({ data: new Float32Array(4 * 48 * 10), dims: [4, 48, 10] }, spec, 'x')!, /got \[4, 48, 10\]/);
  assert.match(shapeMismatch({ data: new Float32Array(5), dims: [3, 48, 10] }, spec, 'x')!, /5 values/);
});

test('canShareBatch: same rank always with padding, equal dims only without', () => {
  assert.equal(canShareBatch([3, 48, 320], [3, 48, 400], true), true);
  assert.equal(canShareBatch([3, 48, 320], [3, 48, 400], false), false);
  assert.equal(canShareBatch([3, 48], [3, 48, 1], true), false);
});

test('unstack refuses an output whose batch dimension is not the batch size', () => {
  assert.throws(() => unstack({ data: new Float32Array(6), dims: [3, 2] }, 2), /batch dimension 3, expected 2/);
});

test('string items stack into string[] and unstack back, and cannot be padded', () => {
  const batch = stack([
    { data: ['a', 'b'], dims: [2] },
    { data: ['c', 'd'], dims: [2] },
  ]);
  assert.deepEqual(batch, { data: ['a', 'b', 'c', 'd'], dims: [2, 2] });
  assert.deepEqual(
    unstack(batch, 2).map((t) => t.data),
    [
      ['a', 'b'],
      ['c', 'd'],
    ],
  );
  assert.equal(dataType(['x']), 'string');
  assert.throws(
    () =>
      stack([
        { data: ['a'], dims: [1] },
        { data: ['b', 'c'], dims: [2] },
      ]),
    /string tensors cannot be padded/,
  );
});

test('bool and float16 tags survive stack and unstack; unsigned and 16-bit arrays name their type', () => {
  const batch = stack([
    { data: Uint8Array.of(1, 0), dims: [2], type: 'bool' as const },
    { data: Uint8Array.of(0, 1), dims: [2], type: 'bool' as const },
  ]);
  assert.equal(elementType(batch), 'bool');
  assert.deepEqual(unstack(batch, 2).map(elementType), ['bool', 'bool']);
  assert.equal(elementType({ data: Uint16Array.of(0x3c00), type: 'float16' }), 'float16');
  assert.equal(elementType({ data: Uint16Array.of(1) }), 'uint16');
  assert.equal(elementType(stack([{ data: BigUint64Array.of(1n), dims: [1] }])), 'uint64');
  assert.equal(dataType(new Uint32Array(1)), 'uint32');
  assert.equal(dataType(new Int16Array(1)), 'int16');
  assert.equal(tagOf('float16'), 'float16');
  assert.equal(tagOf('uint16'), undefined);
});

test('firstNonFinite finds the first NaN or Infinity of a float tensor, float16 by its bits, and ignores integers', () => {
  assert.equal(firstNonFinite({ data: Float32Array.of(1, -3.4028234663852886e38, 0) }), -1);
  assert.equal(firstNonFinite({ data: Float32Array.from([1, 1e308, NaN]) }), 1, '1e308 is Infinity as float32');
  assert.equal(firstNonFinite({ data: Float64Array.of(0, 1e308, -Infinity) }), 2);
  assert.equal(firstNonFinite({ data: Float64Array.of(NaN) }), 0);
  assert.equal(
    firstNonFinite({ data: Uint16Array.of(0x7bff, 0xfbff, 0x7e00), type: 'float16' }),
    2,
    '65504 and -65504 are finite, 0x7e00 is NaN',
  );
  assert.equal(firstNonFinite({ data: Uint16Array.of(0x7c00) }), -1, 'an untagged Uint16Array is uint16, not float16');
  assert.equal(firstNonFinite({ data: Int32Array.of(0, -1) }), -1);
  assert.equal(firstNonFinite({ data: ['a'] }), -1);
});
