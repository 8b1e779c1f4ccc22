/**
 * The webgpu bench's own flags (`npm run bench -- --device webgpu --label h100 --max-rate 800 --slo 50ms`):
 * a run on a lent GPU is short, so a mistyped flag must stop it before any model loads, not after.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webgpuOptionsFrom } from '../bench/webgpu.ts';

test('the three flags are read, and the other flags of the bench are left to it', () => {
  assert.deepEqual(webgpuOptionsFrom(['--device', 'webgpu', '--label', 'h100', '--max-rate', '800', '--slo', '50ms']), {
    label: 'h100',
    maxRatePerSec: 800,
    slo: '50ms',
  });
  assert.deepEqual(webgpuOptionsFrom(['--label=lavapipe_2-cores']), {
    label: 'lavapipe_2-cores',
    maxRatePerSec: undefined,
    slo: undefined,
  });
  assert.deepEqual(webgpuOptionsFrom([]), { label: undefined, maxRatePerSec: undefined, slo: undefined });
});

test('a label that could not name a file in bench-results/ is refused', () => {
  for (const label of ['../h100', 'a b', 'gpu/1', 'h100.md'])
    assert.throws(() => webgpuOptionsFrom(['--label', label]), /--label must be letters, digits, _ and -/, label);
});

test('a rate that is not a positive number is refused', () => {
  for (const rate of ['0', '-5', 'fast', 'Infinity', 'NaN'])
    assert.throws(() => webgpuOptionsFrom(['--max-rate', rate]), /--max-rate must be a number of calls per second above 0/, rate);
});

test('an SLO that is not a duration is refused', () => {
  assert.throws(() => webgpuOptionsFrom(['--slo', 'soon']), /--slo must be a positive duration/);
  assert.throws(() => webgpuOptionsFrom(['--slo', '-3ms']), /--slo must be a positive duration/);
});

test('a flag without its value is refused rather than read as the next flag', () => {
  assert.throws(() => webgpuOptionsFrom(['--label']), /--label needs a value/);
  assert.throws(() => webgpuOptionsFrom(['--label', '--slo', '50ms']), /--label needs a value/);
  assert.throws(() => webgpuOptionsFrom(['--max-rate', '']), /--max-rate needs a value/);
});
