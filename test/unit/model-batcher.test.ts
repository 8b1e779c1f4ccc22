import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BatchDevice, BatchModels } from '../../runtime/batching/batch-device.ts';
import type { ItemFeeds } from '../../runtime/batching/batch-feeds.ts';
import type { Cancellation } from '../../runtime/batching/cancellation.ts';
import { ModelBatcher, type BatchOutcome, type BatchRecord } from '../../runtime/batching/model-batcher.ts';
import { resolveConfig, type ModelConfig } from '../../runtime/config.ts';
import { defaults } from '../../runtime/defaults.ts';
import { CancelledError, OverloadedError, RunFailedError } from '../../runtime/errors.ts';
import type { ModelRef, WireTensor } from '../../runtime/lanes/protocol.ts';
import { idleHost } from '../../runtime/scheduler/types.ts';
import { VirtualClock } from '../../runtime/scheduler/virtual-clock.ts';

/** One batch the fake device was handed: the ids of its items, in batch order, and how to end its run. */
interface DeviceRun {
  readonly model: ModelRef;
  readonly ids: number[];
  readonly deadlineMs: number;
  finish(): void;
  fail(message: string): void;
}

/**
 * A device in process: records every batch it is handed and runs none until the test finishes or fails it.
 * Its output is each item's id times 10, one value per item, so a test sees which item got which row.
 * Device time is 1 ms + 0.5 ms per item.
 */
class RecordingDevice implements BatchDevice {
  readonly runs: DeviceRun[] = [];

  run(model: ModelRef, feeds: Record<string, WireTensor>, deadlineMs: number) {
    const x = feeds.x;
    const n = x.dims[0];
    const per = x.data.length / n;
    const ids = Array.from({ length: n }, (_, i) => Number((x.data as Float32Array)[i * per]));
    return new Promise<{ outputs: Record<string, WireTensor>; runMs: number }>((resolve, reject) => {
      this.runs.push({
        model,
        ids,
        deadlineMs,
        finish: () =>
          resolve({ outputs: { y: { type: 'float32', data: Float32Array.from(ids, (id) => id * 10), dims: [n, 1] } }, runMs: 1 + 0.5 * n }),
        fail: (message) => reject(new Error(message)),
      });
    });
  }

  /** The sizes of the batches handed over so far. */
  get sizes(): number[] {
    return this.runs.map((r) => r.ids.length);
  }
}

const models: BatchModels = {
  ensure: async () => undefined,
  meta: () => ({ inputs: [{ name: 'x', type: 'float32', shape: ['N', 2] }], outputs: [{ name: 'y', type: 'float32', shape: ['N', 1] }] }),
};

/** An item whose input rows both hold its id. */
const item = (id: number): ItemFeeds => ({ x: { data: Float32Array.of(id, id), dims: [2] } });

/** Lets the batcher's async steps (model ensure, run, settle) take their turn. */
const turn = () => new Promise((r) => setImmediate(r));

function setUp(model: Omit<ModelConfig, 'file'>) {
  const config = resolveConfig({ models: { m: { file: 'm.onnx', ...model } } }, '/srv', {});
  const clock = new VirtualClock(1000);
  const device = new RecordingDevice();
  const records: BatchRecord[] = [];
  let batchSeq = 0;
  const batcher = new ModelBatcher({
    model: config.models.m,
    models,
    device,
    lanes: 1,
    fitWindow: defaults.scheduler.fitWindow,
    marginMs: defaults.scheduler.marginMs,
    meanObjectiveFraction: defaults.scheduler.meanObjectiveFraction,
    overloadFactor: defaults.scheduler.overloadFactor,
    hostLagFraction: defaults.scheduler.hostLagFraction,
    host: () => idleHost,
    nextBatchId: () => ++batchSeq,
    onBatch: (r) => records.push(r),
    clock,
  });
  const submit = (id: number, options: { deadlineInMs?: number; shed?: boolean; cancel?: Cancellation } = {}) =>
    batcher.submit(item(id), 'f', clock.now(), clock.now() + (options.deadlineInMs ?? 1000), options.cancel, options.shed ?? false);
  return { batcher, clock, device, records, submit };
}

/** What an item's promise settled with, without letting a rejection go unhandled. */
function outcomeOf(p: Promise<BatchOutcome>): Promise<BatchOutcome | Error> {
  return p.catch((err: Error) => err);
}

/** A cancellation the test fires by hand, as the HTTP edge does when a client's socket closes. */
class ManualCancellation implements Cancellation {
  cancelled = false;
  readonly #listeners = new Set<() => void>();
  onCancel(fn: () => void) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  cancel() {
    this.cancelled = true;
    for (const fn of this.#listeners) fn();
  }
  get listening() {
    return this.#listeners.size;
  }
}

test('greedy: a free lane takes the first item alone, then everything that waited, up to maxBatch, in order', async () => {
  const { device, submit, records, batcher } = setUp({ policy: 'greedy', maxBatch: 4 });
  const calls = [1, 2, 3, 4, 5, 6].map((id) => outcomeOf(submit(id)));
  await turn();
  assert.deepEqual(device.sizes, [1], 'the lane was free: item 1 left at once');
  assert.equal(batcher.waiting, 5);
  device.runs[0].finish();
  await turn();
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [2, 3, 4, 5]],
  );
  device.runs[1].finish();
  await turn();
  device.runs[2].finish();
  const outcomes = (await Promise.all(calls)) as BatchOutcome[];
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [2, 3, 4, 5], [6]],
  );
  // Each item got its own row of its batch's output, and the facts of the batch it rode in.
  assert.deepEqual(
    outcomes.map((o) => o.outputs.y.data[0]),
    [10, 20, 30, 40, 50, 60],
  );
  assert.deepEqual(
    outcomes.map((o) => [o.batchId, o.batchSize]),
    [
      [1, 1],
      [2, 4],
      [2, 4],
      [2, 4],
      [2, 4],
      [3, 1],
    ],
  );
  assert.deepEqual(
    records.map((r) => [r.batchId, r.size, r.runMs, r.ok]),
    [
      [1, 1, 1.5, true],
      [2, 4, 3, true],
      [3, 1, 1.5, true],
    ],
  );
  assert.equal(device.runs[0].model.file, '/srv/m.onnx');
  assert.ok(batcher.idle);
});

test('none: every item rides alone, whatever waits', async () => {
  const { device, submit } = setUp({ policy: 'none', maxBatch: 8 });
  const calls = [1, 2, 3].map((id) => outcomeOf(submit(id)));
  for (let i = 0; i < 3; i++) {
    await turn();
    device.runs[i].finish();
  }
  await Promise.all(calls);
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [2], [3]],
  );
});

test('fixed-delay: holds until the preferred batch is reached, or until the oldest has waited the delay', async () => {
  const { device, submit, clock } = setUp({
    policy: 'fixed-delay',
    maxBatch: 8,
    fixedDelay: { maxQueueDelay: '5ms', preferredBatchSize: 3 },
  });
  const first = [1, 2].map((id) => outcomeOf(submit(id)));
  await turn();
  assert.deepEqual(device.sizes, [], 'two of a preferred three: held');
  const third = outcomeOf(submit(3));
  await turn();
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1, 2, 3]],
    'the third filled the preferred batch',
  );
  device.runs[0].finish();
  await Promise.all([...first, third]);
  const late = outcomeOf(submit(4));
  clock.advanceBy(4.9);
  await turn();
  assert.deepEqual(device.sizes, [3], 'held for less than the delay');
  clock.advanceBy(0.1);
  await turn();
  assert.deepEqual(device.sizes, [3, 1], 'the delay is over: it goes alone');
  device.runs[1].finish();
  await late;
});

test('a client that leaves before dispatch takes its item out of the queue: no device time, a CancelledError', async () => {
  const { device, submit, batcher } = setUp({ policy: 'greedy', maxBatch: 8 });
  const first = outcomeOf(submit(1));
  await turn();
  const leaving = new ManualCancellation();
  const gone = outcomeOf(submit(2, { cancel: leaving }));
  const staying = outcomeOf(submit(3));
  assert.equal(batcher.waiting, 2);
  leaving.cancel();
  assert.ok((await gone) instanceof CancelledError);
  assert.equal(batcher.waiting, 1);
  device.runs[0].finish();
  await turn();
  device.runs[1].finish();
  await Promise.all([first, staying]);
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [3]],
    'item 2 never reached the device',
  );
  // A client already gone is refused at once and never queued; one that stays stops being listened to.
  const already = new ManualCancellation();
  already.cancel();
  assert.ok((await outcomeOf(submit(4, { cancel: already }))) instanceof CancelledError);
  assert.equal(batcher.waiting, 0);
  const kept = new ManualCancellation();
  const served = outcomeOf(submit(5, { cancel: kept }));
  await turn();
  assert.equal(kept.listening, 1);
  device.runs[2].finish();
  assert.equal(((await served) as BatchOutcome).outputs.y.data[0], 50);
  assert.equal(kept.listening, 0, 'settled: the batcher stopped listening');
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [3], [5]],
  );
});

test('a client that leaves after dispatch changes nothing: its batch runs and it gets its answer', async () => {
  const { device, submit } = setUp({ policy: 'greedy', maxBatch: 8 });
  const leaving = new ManualCancellation();
  const call = outcomeOf(submit(1, { cancel: leaving }));
  await turn();
  leaving.cancel();
  device.runs[0].finish();
  assert.equal(((await call) as BatchOutcome).batchSize, 1);
});

test('a failed run fails only its own batch, with one error id; the next batch runs', async () => {
  const { device, submit, records, batcher } = setUp({ policy: 'greedy', maxBatch: 2 });
  const calls = [1, 2, 3].map((id) => outcomeOf(submit(id)));
  await turn();
  device.runs[0].finish();
  await turn();
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [2, 3]],
  );
  device.runs[1].fail('index out of range');
  const [one, two, three] = await Promise.all(calls);
  assert.equal((one as BatchOutcome).outputs.y.data[0], 10);
  for (const failed of [two, three]) {
    assert.ok(failed instanceof RunFailedError);
    // The client gets the batch and an error id; the model's own words go to the log under that id.
    assert.equal(failed.message, `model "m" failed on batch 2; the log has the reason under error id ${(two as RunFailedError).errorId}`);
    assert.deepEqual(failed.details, { model: 'm', batchId: 2, batchSize: 2, errorId: (two as RunFailedError).errorId });
  }
  assert.deepEqual(
    records.map((r) => [r.batchId, r.ok]),
    [
      [1, true],
      [2, false],
    ],
  );
  assert.equal(records[1].errorId, (two as RunFailedError).errorId);
  assert.equal(records[1].error, 'index out of range');
  // The queue carries on.
  const after = outcomeOf(submit(4));
  await turn();
  device.runs[2].finish();
  assert.equal(((await after) as BatchOutcome).outputs.y.data[0], 40);
  assert.ok(batcher.idle);
});

test('expiry: an item that may be shed and can no longer meet its deadline gets a 503 and no device time; one that may not, runs late', async () => {
  const { device, submit, clock } = setUp({ policy: 'greedy', maxBatch: 8 });
  const first = outcomeOf(submit(1));
  await turn();
  const shed = outcomeOf(submit(2, { deadlineInMs: 10, shed: true }));
  const serveLate = outcomeOf(submit(3, { deadlineInMs: 10, shed: false }));
  clock.advanceBy(20);
  device.runs[0].finish();
  await turn();
  const expired = await shed;
  assert.ok(expired instanceof OverloadedError);
  assert.match(expired.message, /"f" can no longer meet its deadline/);
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[1], [3]],
  );
  device.runs[1].finish();
  await Promise.all([first, serveLate]);
});

test('the earliest deadline of a batch is what it waits for a lane with', async () => {
  const { device, submit } = setUp({ policy: 'greedy', maxBatch: 8 });
  const first = outcomeOf(submit(1, { deadlineInMs: 500 }));
  await turn();
  const rest = [outcomeOf(submit(2, { deadlineInMs: 300 })), outcomeOf(submit(3, { deadlineInMs: 200 }))];
  device.runs[0].finish();
  await turn();
  device.runs[1].finish();
  await Promise.all([first, ...rest]);
  assert.deepEqual(
    device.runs.map((r) => [r.ids, r.deadlineMs]),
    [
      [[1], 1500],
      [[3, 2], 1200],
    ],
    'earliest deadline first, and the batch carries it',
  );
});

test('the warm-up probe runs copies of one item at each size straight on the device; anchored, its times enter the fit', async () => {
  const { device, batcher } = setUp({ policy: 'slo', maxBatch: 8 });
  const probing = batcher.probe(item(7), [1, 4, 1, 4], true);
  for (let i = 0; i < 4; i++) {
    await turn();
    device.runs[i].finish();
  }
  await probing;
  assert.deepEqual(
    device.runs.map((r) => r.ids),
    [[7], [7, 7, 7, 7], [7], [7, 7, 7, 7]],
  );
  assert.deepEqual(
    device.runs.map((r) => r.deadlineMs),
    [-Infinity, -Infinity, -Infinity, -Infinity],
    'ahead of any call',
  );
  assert.deepEqual(batcher.scheduler.fit.evidence().anchors, [
    [1, 1.5],
    [4, 3],
    [1, 1.5],
    [4, 3],
  ]);
  const fit = batcher.scheduler.fit.get();
  assert.ok(fit);
  assert.ok(Math.abs(fit.alphaMs - 0.5) < 1e-9 && Math.abs(fit.tau0Ms - 1) < 1e-9, JSON.stringify(fit));
  // Unanchored (the unmeasured first pass), nothing is kept.
  const fresh = setUp({ policy: 'slo', maxBatch: 8 });
  const unmeasured = fresh.batcher.probe(item(7), [1, 4], false);
  for (let i = 0; i < 2; i++) {
    await turn();
    fresh.device.runs[i].finish();
  }
  await unmeasured;
  assert.equal(fresh.device.runs.length, 2);
  assert.equal(fresh.batcher.scheduler.fit.get(), undefined);
  assert.deepEqual(fresh.batcher.scheduler.fit.evidence().anchors, []);
});

test('onIdle resolves once nothing waits and no batch runs', async () => {
  const { device, submit, batcher } = setUp({ policy: 'greedy', maxBatch: 8 });
  await batcher.onIdle();
  const calls = [1, 2].map((id) => outcomeOf(submit(id)));
  let idle = false;
  const drained = batcher.onIdle().then(() => (idle = true));
  await turn();
  device.runs[0].finish();
  await turn();
  assert.equal(idle, false, 'item 2 still runs');
  device.runs[1].finish();
  await drained;
  await Promise.all(calls);
  assert.ok(batcher.idle);
});
