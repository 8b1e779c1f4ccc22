/**
 * Joules per inference from nvidia-smi (runtime/metrics/gpu-energy.ts). The parser is tested on lines in
 * the form nvidia-smi prints them. No GPU exists where these tests were written, so the sampler is tested
 * end to end against a STAND-IN `nvidia-smi` script put first on PATH: it proves the one-child, line-by-line
 * sampling and the fallbacks, not that a real NVIDIA driver answers this way (that is untested).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { energyOver, GpuEnergy, parseSmiLine } from '../../runtime/metrics/gpu-energy.ts';

describe('parseSmiLine', () => {
  test('power in W and the energy counter in mJ, as --format=csv,noheader,nounits prints them', () => {
    assert.deepEqual(parseSmiLine('71.45, 1873640270'), { watts: 71.45, energyJ: 1873640.27 });
    assert.deepEqual(parseSmiLine('24.51, 0'), { watts: 24.51, energyJ: 0 });
  });
  test('fields without a reading are null', () => {
    assert.deepEqual(parseSmiLine('[N/A], [N/A]'), { watts: null, energyJ: null });
    assert.deepEqual(parseSmiLine('18.23, [Not Supported]'), { watts: 18.23, energyJ: null });
    assert.deepEqual(parseSmiLine('[Not Supported], 512000'), { watts: null, energyJ: 512 });
  });
  test('anything else is not a sample', () => {
    for (const line of [
      '',
      'power.draw [W], total_energy_consumption [mJ]',
      'Failed to initialize NVML: Driver/library version mismatch',
      '71.45',
      '71.45, 12, 3',
      '71.45 W, 1000',
      'NaN, 1',
    ]) {
      assert.equal(parseSmiLine(line), undefined, line);
    }
  });
});

describe('energyOver', () => {
  test('the counter where both ends have it, else power integrated', () => {
    assert.equal(
      energyOver([
        { atMs: 0, watts: 50, energyJ: 10 },
        { atMs: 1000, watts: 50, energyJ: 70 },
      ]),
      60,
    );
    assert.equal(
      energyOver([
        { atMs: 0, watts: 40, energyJ: null },
        { atMs: 500, watts: 60, energyJ: null },
        { atMs: 1500, watts: 60, energyJ: null },
      ]),
      25 + 60,
    );
    assert.equal(
      energyOver([
        { atMs: 0, watts: null, energyJ: null },
        { atMs: 1000, watts: 60, energyJ: null },
      ]),
      null,
    );
    assert.equal(energyOver([{ atMs: 0, watts: 60, energyJ: 1 }]), null);
  });
});

// Bounded: a sampler that never yields a figure or a reason fails the test instead of hanging the suite.
describe('GpuEnergy against a stand-in nvidia-smi on PATH (no GPU here: not a real driver)', { timeout: 30_000 }, () => {
  const dir = mkdtempSync(path.join((mkdirSync('test/tmp', { recursive: true }), 'test/tmp'), 'smi-'));
  const savedPath = process.env.PATH;
  after(() => {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });

  /** Puts a stand-in `nvidia-smi` (a node script with `body`) first on PATH, in its own folder. */
  function standIn(name: string, body: string): void {
    const bin = path.join(dir, name);
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'nvidia-smi'), `#!/usr/bin/env node\n${body}\n`);
    chmodSync(path.join(bin, 'nvidia-smi'), 0o755);
    process.env.PATH = `${path.resolve(bin)}${path.delimiter}${savedPath}`;
  }

  const started = (opts: { onStop?(r: string): void } = {}) => {
    const e = new GpuEnergy({ intervalMs: 20, ...opts });
    e.start();
    return e;
  };
  const stops = () => {
    // The sampler's child is unref'd (it must never keep a runtime alive), so the test keeps the loop alive.
    const keepAlive = setInterval(() => {}, 1000);
    let resolve!: (r: string) => void;
    const reason = new Promise<string>((r) => (resolve = r)).finally(() => clearInterval(keepAlive));
    return { reason, onStop: (r: string) => resolve(r) };
  };

  test('samples one long-running child line by line; energy is shared by device time', async () => {
    // 100 W, and the energy counter in mJ rising with it, every -lms milliseconds; one process throughout.
    standIn(
      'ok',
      `const ms = Number(process.argv[process.argv.indexOf('-lms') + 1]); const t0 = Date.now();
setInterval(() => console.log('100.00, ' + Math.round(5e6 + 100 * (Date.now() - t0))), ms);`,
    );
    const e = started();
    try {
      // Batches booked before the window's first sample do not count, so book until a figure appears.
      do {
        e.book('a', 10, 30);
        e.book('b', 10, 10);
        await new Promise((r) => setTimeout(r, 20));
      } while (e.joulesPerInference('a') === null);
      const a = e.joulesPerInference('a');
      const b = e.joulesPerInference('b');
      assert.ok(a !== null && a > 0 && b !== null && b > 0, `a ${a}, b ${b}`);
      assert.ok(Math.abs(a / b - 3) < 1e-9, `a has 3x b's device time for as many calls: ${a} vs ${b}`);
      assert.equal(e.joulesPerInference('c'), null, 'no calls of c in the window');
      assert.equal(e.stopped, undefined);
    } finally {
      e.close();
    }
    assert.equal(e.joulesPerInference('a'), null, 'closed: back to the model');
  });

  test('missing from PATH: one-line reason, no figure', async () => {
    process.env.PATH = path.resolve(dir, 'empty-nowhere');
    const s = stops();
    const e = started(s);
    assert.match(await s.reason, /^nvidia-smi could not be run \(ENOENT\)$/);
    assert.equal(e.joulesPerInference('a'), null);
  });

  test('exits: one-line reason', async () => {
    standIn('exits', 'process.exit(9);');
    const s = stops();
    const e = started(s);
    assert.equal(await s.reason, 'nvidia-smi exited (code 9)');
    assert.equal(e.joulesPerInference('a'), null);
  });

  test('prints garbage: one-line reason, and the child is stopped', async () => {
    standIn('garbage', `console.log('Failed to initialize NVML: Driver/library version mismatch'); setInterval(() => {}, 1000);`);
    const s = stops();
    const e = started(s);
    assert.match(await s.reason, /^nvidia-smi printed a line that is not a power\/energy sample: "Failed to initialize NVML/);
    assert.equal(e.joulesPerInference('a'), null);
  });

  test('no reading on this GPU ([N/A] in both fields): one-line reason', async () => {
    standIn('na', `setInterval(() => console.log('[N/A], [N/A]'), 20);`);
    const s = stops();
    const e = started(s);
    assert.equal(await s.reason, 'nvidia-smi reports neither power.draw nor total_energy_consumption on this GPU');
    assert.equal(e.joulesPerInference('a'), null);
  });
});
