import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SoloWork } from '../../runtime/host/solo-work.ts';

test('a span that ran with nothing else under way or begun gives its duration', () => {
  const w = new SoloWork();
  const a = w.start();
  const ms = w.stop(a);
  assert.equal(typeof ms, 'number');
  assert.ok(ms! >= 0);
  const b = w.start();
  assert.equal(typeof w.stop(b), 'number', 'alone again once the first ended');
});

test('spans that overlap in any way give undefined, both of them', () => {
  const w = new SoloWork();
  // b starts while a is under way: neither ran alone.
  const a = w.start();
  const b = w.start();
  assert.equal(w.stop(a), undefined);
  assert.equal(w.stop(b), undefined);
  // d starts and ends inside c: c did not run alone, d did not start alone.
  const c = w.start();
  const d = w.start();
  assert.equal(w.stop(d), undefined);
  assert.equal(w.stop(c), undefined);
  // After everything ended, a new span is alone.
  const e = w.start();
  assert.equal(typeof w.stop(e), 'number');
});
