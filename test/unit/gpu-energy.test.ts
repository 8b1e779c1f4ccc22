/**
 * Joules per inference from nvidia-smi (runtime/metrics/gpu-energy.ts). The parser is tested on lines in
 * the form nvidia-smi prints them. CI has no GPU, so the sampler is tested end to end against a stand-in
 * `nvidia-smi` script put first on PATH that answers as nvidia-smi 580.159 did on an H100 (README, Running on
 * a GPU): one `power.draw` line per interval, and for any other field `Field "..." is not a valid field to
 * query.` and an exit (code 2 here; the real exit code was not read), which is how a query of the energy
 * counter failed there.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { energyOver, GpuEnergy, parseSmiLine } from '../../runtime/metrics/gpu-energy.ts';

describe('parseSmiLine', () => {
  test('power in W, as --query-gpu=power.draw --format=csv,noheader,nounits prints it', () => {
    assert.equal(parseSmiLine('71.45'), 71.45);
    assert.equal(parseSmiLine('24.51 '), 24.51);
    assert.equal(parseSmiLine('700'), 700);
  });
  test('a GPU without the reading is null', () => {
    assert.equal(parseSmiLine('[N/A]'), null);
    assert.equal(parseSmiLine('[Not Supported]'), null);
  });
  test('anything else is not a sample', () => {
    for (const line of [
      '',
      'power.draw [W]',
      'Failed to initialize NVML: Driver/library version mismatch',
      'Field "total_energy_consumption" is not a valid field to query.',
      '71.45, 1873640270',
      '71.45 W',
      'NaN',
    ]) {
      assert.equal(parseSmiLine(line), undefined, line);
    }
  });
});

describe('energyOver', () => {
  test('power integrated by trapezoids over the samples; null under two', () => {
    assert.equal(
      energyOver([
        { atMs: 0, watts: 40 },
        { atMs: 500, watts: 60 },
        { atMs: 1500, watts: 60 },
      ]),
      25 + 60,
    );
    assert.equal(energyOver([{ atMs: 0, watts: 60 }]), null);
    assert.equal(energyOver([]), null);
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

  /**
   * Puts a stand-in `nvidia-smi` (a node script with `body`) first on PATH, in its own folder. Like the real
   * one, it refuses a query of any field but power.draw before `body` runs.
   */
  function standIn(name: string, body: string): void {
    const bin = path.join(dir, name);
    mkdirSync(bin);
    const refuse = `for (const f of (process.argv.find((a) => a.startsWith('--query-gpu=')) ?? '').slice(12).split(','))
  if (f !== 'power.draw') { console.log('Field "' + f + '" is not a valid field to query.\\n'); process.exit(2); }`;
    writeFileSync(path.join(bin, 'nvidia-smi'), `#!/usr/bin/env node\n${refuse}\n${body}\n`);
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
    // 100 W every -lms milliseconds; one process throughout.
    standIn('ok', `const ms = Number(process.argv[process.argv.indexOf('-lms') + 1]); setInterval(() => console.log('100.00'), ms);`);
    const e = started();
    try {
      // Batches booked before the window's first sample do not count, so book until a figure appears.
      do {
        e.book('a', 10, 30);
        e.book('b', 10, 10);
        await new Promise((r) => setTimeout(r, 20));
      } while (e.joulesPerInference('a') === null && e.stopped === undefined);
      assert.equal(e.stopped, undefined, 'the sampler stopped');
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
    assert.match(await s.reason, /^nvidia-smi printed a line that is not a power sample: "Failed to initialize NVML/);
    assert.equal(e.joulesPerInference('a'), null);
  });

  test('no reading on this GPU ([N/A]): one-line reason', async () => {
    standIn('na', `setInterval(() => console.log('[N/A]'), 20);`);
    const s = stops();
    const e = started(s);
    assert.equal(await s.reason, 'nvidia-smi reports no power.draw on this GPU');
    assert.equal(e.joulesPerInference('a'), null);
  });
});
