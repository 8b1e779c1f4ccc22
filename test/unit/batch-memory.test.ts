import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stackFeeds } from '../../runtime/batching/batch-feeds.ts';
import { BatchMemory } from '../../runtime/batching/batch-memory.ts';
import { stack } from '../../runtime/models/tensor.ts';

const row = (n: number, v: number) => ({ data: new Float32Array(n).fill(v), dims: [n] });

test('a buffer handed back is the one the next batch of its size class is stacked into', () => {
  const memory = new BatchMemory();
  const first = memory.take(new Float32Array(1), 1500) as Float32Array;
  assert.equal(first.length, 1500);
  assert.equal(first.buffer.byteLength, 8192, 'a power-of-two size class');
  memory.give([first.buffer as ArrayBuffer]);
  assert.equal(memory.pooled, 1);
  // 1100 floats are 4400 bytes: the same 8 KiB class.
  const second = memory.take(new Float32Array(1), 1100) as Float32Array;
  assert.ok(second.buffer === first.buffer, 'the buffer handed back');
  assert.equal(second.length, 1100);
  assert.equal(memory.pooled, 0);
  // Another class is a fresh buffer.
  const third = memory.take(new Float32Array(1), 3000) as Float32Array;
  assert.ok(third.buffer !== first.buffer, 'a fresh buffer');
  assert.equal(third.buffer.byteLength, 16384);
});

test('a reused buffer keeps its kind: Int32 items get an Int32Array over it', () => {
  const memory = new BatchMemory();
  memory.give([new ArrayBuffer(8192)]);
  const out = memory.take(new Int32Array(1), 2000);
  assert.ok(out instanceof Int32Array);
  assert.equal((out as Int32Array).length, 2000);
  assert.equal(memory.pooled, 0);
});

test('small arrays, odd sizes and strings are not pooled; at most keepPerSize wait per class', () => {
  const memory = new BatchMemory(2);
  const small = memory.take(new Float32Array(1), 10) as Float32Array;
  assert.equal(small.buffer.byteLength, 40, 'a small batch is a plain array');
  memory.give([small.buffer as ArrayBuffer, new ArrayBuffer(5000)]);
  assert.equal(memory.pooled, 0, 'below 4 KiB or not a size class: left to the GC');
  memory.give([new ArrayBuffer(8192), new ArrayBuffer(8192), new ArrayBuffer(8192)]);
  assert.equal(memory.pooled, 2);
  const strings = memory.take(['a'], 3);
  assert.deepEqual(strings, ['', '', '']);
});

test('stacking into a reused, dirty buffer: every element is written, padding included', () => {
  const memory = new BatchMemory();
  const dirty = new ArrayBuffer(8192);
  new Float32Array(dirty).fill(7);
  memory.give([dirty]);
  // Items of widths 99 and 100, padded to 100 with -1: the old 7s must not show through.
  const wide = Array.from({ length: 16 }, (_, i) => ({ data: new Float32Array(100).fill(i), dims: [i % 2 ? 100 : 99] }));
  for (const [i, w] of wide.entries()) if (i % 2 === 0) w.data = w.data.subarray(0, 99);
  const padded = stack(wide, -1, (like, n) => memory.take(like, n));
  assert.ok((padded.data as Float32Array).buffer === dirty, 'stacked into the reused buffer');
  const data = padded.data as Float32Array;
  for (let i = 0; i < 16; i++) {
    assert.equal(data[i * 100], i);
    assert.equal(data[i * 100 + 99], i % 2 ? i : -1, 'padding is padValue, not what the buffer held');
  }
});

test('stackFeeds with memory: the feeds are views of pooled buffers, equal to fresh stacking', () => {
  const memory = new BatchMemory();
  const items = Array.from({ length: 40 }, (_, i) => ({ x: row(128, i) }));
  const fresh = stackFeeds(items, 0);
  const first = stackFeeds(items, 0, memory);
  assert.deepEqual(Array.from(first.x.data as Float32Array), Array.from(fresh.x.data as Float32Array));
  assert.deepEqual(first.x.dims, [40, 128]);
  // Poisoned before it is handed back: rows that stacking failed to write would show as NaN.
  const returned = (first.x.data as Float32Array).buffer as ArrayBuffer;
  new Float32Array(returned).fill(NaN);
  memory.give([returned]);
  // 33 rows of 128 floats are 16.5 KiB: the same 32 KiB class as 40 rows.
  const again = stackFeeds(items.slice(0, 33), 0, memory);
  assert.ok((again.x.data as Float32Array).buffer === (first.x.data as Float32Array).buffer, 'the buffer handed back');
  assert.deepEqual(Array.from(again.x.data as Float32Array), Array.from((fresh.x.data as Float32Array).subarray(0, 33 * 128)));
});
