/**
 * The per-model queue and the policies' decisions, in virtual time: what is dispatched when, and how much.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdForObjective } from '../../runtime/scheduler/formula.ts';
import { ModelQueue } from '../../runtime/scheduler/model-queue.ts';
import { fixedDelayPolicy, greedyPolicy, holdPolicy, noBatchingPolicy, sloPolicy } from '../../runtime/scheduler/policies/index.ts';
import type { BatchPolicy, Pending, PolicyContext } from '../../runtime/scheduler/types.ts';
import { VirtualClock } from '../../runtime/scheduler/virtual-clock.ts';

interface Dispatch {
  atMs: number;
  ids: number[];
}

/** A queue whose lane runs each batch for tau(b) = alphaMs*b + tau0Ms of virtual time. */
function harness(
  policy: BatchPolicy,
  opts: {
    maxBatch?: number;
    alphaMs?: number;
    tau0Ms?: number;
    context?: Partial<PolicyContext>;
    canJoin?: (a: number, b: number) => boolean;
  } = {},
) {
  const clock = new VirtualClock();
  const { alphaMs = 1, tau0Ms = 4 } = opts;
  const dispatches: Dispatch[] = [];
  const context: PolicyContext = {
    predictMs: (b) => alphaMs * b + tau0Ms,
    cost: { alphaMs, tau0Ms },
    ratePerSec: 100,
    objectiveMs: 20,
    marginMs: 1,
    ...opts.context,
  };
  const queue: ModelQueue<number> = new ModelQueue<number>({
    clock,
    policy,
    maxBatch: opts.maxBatch ?? 8,
    lanes: 1,
    context: () => context,
    canJoin: opts.canJoin,
    dispatch: (batch) => {
      dispatches.push({ atMs: clock.now(), ids: batch.map((p) => p.payload) });
      clock.setTimer(() => queue.complete(), alphaMs * batch.length + tau0Ms);
    },
  });
  const push = (id: number, atMs: number, sloMs = 100) =>
    clock.setTimer(() => queue.push({ payload: id, arrivalMs: clock.now(), deadlineMs: clock.now() + sloMs }), atMs - clock.now());
  return { clock, queue, dispatches, push };
}

test('greedy: an idle lane takes the first arrival at once; what waits meanwhile goes in one batch when the lane frees', () => {
  const h = harness(greedyPolicy);
  for (let i = 0; i < 6; i++) h.push(i, i);
  h.clock.runUntilIdle();
  assert.deepEqual(h.dispatches, [
    { atMs: 0, ids: [0] },
    { atMs: 5, ids: [1, 2, 3, 4, 5] },
  ]);
});

test('greedy never exceeds the max batch; the rest waits for the next free lane', () => {
  const h = harness(greedyPolicy, { maxBatch: 3 });
  for (let i = 0; i < 8; i++) h.push(i, 0);
  h.clock.runUntilIdle();
  assert.deepEqual(
    h.dispatches.map((d) => d.ids),
    [[0], [1, 2, 3], [4, 5, 6], [7]],
  );
});

test('none: one item per run', () => {
  const h = harness(noBatchingPolicy);
  for (let i = 0; i < 3; i++) h.push(i, 0);
  h.clock.runUntilIdle();
  assert.deepEqual(
    h.dispatches.map((d) => d.ids.length),
    [1, 1, 1],
  );
});

test('fixed-delay: waits up to the max queue delay for the oldest item, or dispatches at the preferred size', () => {
  const h = harness(fixedDelayPolicy({ maxQueueDelayMs: 10, preferredBatchSize: 4 }));
  h.push(0, 0);
  h.push(1, 3);
  h.clock.runUntilIdle();
  assert.deepEqual(h.dispatches, [{ atMs: 10, ids: [0, 1] }], 'the oldest waited exactly 10 ms');
  const h2 = harness(fixedDelayPolicy({ maxQueueDelayMs: 10, preferredBatchSize: 4 }));
  for (let i = 0; i < 4; i++) h2.push(i, i);
  h2.clock.runUntilIdle();
  assert.deepEqual(h2.dispatches, [{ atMs: 3, ids: [0, 1, 2, 3] }], 'the fourth arrival fills the preferred batch');
});

test('hold(h): after a batch the lane waits h before taking what waits; an idle lane goes at once', () => {
  const h = harness(holdPolicy(6));
  h.push(0, 0); // idle lane: at once, runs 0..5
  h.push(1, 1);
  h.push(2, 2);
  h.push(3, 9); // arrives during the hold, joins
  h.clock.runUntilIdle();
  assert.deepEqual(h.dispatches, [
    { atMs: 0, ids: [0] },
    { atMs: 11, ids: [1, 2, 3] }, // lane free at 5, hold 6
  ]);
});

test('slo: holds for the formula h* but never past the earliest deadline minus the predicted run and the margin', () => {
  // alpha 1 ms, tau0 4 ms, 100/s: rho = 0.1, U = 7.727 ms; aimed at objective 20 ms - margin 1 ms:
  // h* = 11.27 * 1.8 / 1.2 = 16.91 ms.
  const h = harness(sloPolicy);
  h.push(0, 0);
  h.push(1, 1);
  h.clock.runUntilIdle();
  assert.equal(h.dispatches.length, 2);
  const hold = h.dispatches[1].atMs - 5;
  assert.ok(Math.abs(hold - 1000 * holdForObjective(100, { alpha: 0.001, tau0: 0.004 }, 0.019)) < 1e-9);
  assert.ok(Math.abs(hold - 16.909) < 0.01, `hold ${hold} ms`);

  // A tight deadline cuts the hold: item 1 must start by 1 + 15 - (1*1 + 4) - 1 = 10.
  const t = harness(sloPolicy);
  t.push(0, 0);
  t.push(1, 1, 15);
  t.clock.runUntilIdle();
  assert.deepEqual(t.dispatches[1], { atMs: 10, ids: [1] });
});

test('slo without a cost fit behaves greedily', () => {
  const h = harness(sloPolicy, { context: { cost: undefined, predictMs: () => undefined } });
  for (let i = 0; i < 4; i++) h.push(i, i);
  h.clock.runUntilIdle();
  assert.deepEqual(
    h.dispatches.map((d) => d.atMs),
    [0, 5],
  );
});

test('items are taken earliest deadline first, across functions with different SLOs', () => {
  const h = harness(greedyPolicy, { maxBatch: 2 });
  h.push(0, 0);
  h.push(1, 1, 500); // relaxed SLO
  h.push(2, 2, 50); // tight SLO, arrives later
  h.push(3, 3, 60);
  h.clock.runUntilIdle();
  assert.deepEqual(
    h.dispatches.map((d) => d.ids),
    [[0], [2, 3], [1]],
  );
});

test('an item that cannot share the head batch keeps its place for the next one', () => {
  // Odd and even ids stand for two shapes that may not be padded together.
  const h = harness(greedyPolicy, { canJoin: (a, b) => a % 2 === b % 2 });
  for (let i = 0; i < 5; i++) h.push(i, 0);
  h.clock.runUntilIdle();
  assert.deepEqual(
    h.dispatches.map((d) => d.ids),
    [[0], [1, 3], [2, 4]],
  );
});

test('remove takes a waiting item out before dispatch; a dispatched one cannot be removed', () => {
  const clock = new VirtualClock();
  const done: number[][] = [];
  const q = new ModelQueue<number>({
    clock,
    policy: greedyPolicy,
    maxBatch: 8,
    lanes: 1,
    context: () => ({ predictMs: () => 1, cost: undefined, ratePerSec: 0, objectiveMs: 10, marginMs: 0 }),
    dispatch: (b) => done.push(b.map((p) => p.payload)),
  });
  const items: Pending<number>[] = [0, 1, 2].map((i) => ({ payload: i, arrivalMs: 0, deadlineMs: 100 }));
  for (const it of items) q.push(it);
  assert.equal(q.remove(items[0]), false, 'item 0 went at once');
  assert.equal(q.remove(items[1]), true);
  q.complete();
  assert.deepEqual(done, [[0], [2]]);
});

test('a hold arms one timer for all its arrivals; an earlier target re-arms it, and a dispatch stops it', () => {
  const clock = new VirtualClock();
  let armed = 0;
  const counting = {
    now: () => clock.now(),
    setTimer: (fn: () => void, delayMs: number) => {
      armed++;
      return clock.setTimer(fn, delayMs);
    },
  };
  // Waits until `until` (movable by the test) and then takes everything.
  let until = 10;
  const dispatches: { atMs: number; n: number }[] = [];
  const q = new ModelQueue<number>({
    clock: counting,
    policy: { name: 'fixed-delay', decide: (s) => (s.nowMs >= until ? { dispatch: s.maxBatch } : { waitUntilMs: until }) },
    maxBatch: 64,
    lanes: 1,
    context: () => ({ predictMs: () => 1, cost: undefined, ratePerSec: 0, objectiveMs: 10, marginMs: 0 }),
    dispatch: (b) => dispatches.push({ atMs: clock.now(), n: b.length }),
  });
  for (let i = 0; i < 20; i++) q.push({ payload: i, arrivalMs: 0, deadlineMs: 100 });
  assert.equal(armed, 1, 'twenty arrivals asking for the same moment arm one timer');
  until = 12;
  q.push({ payload: 20, arrivalMs: 0, deadlineMs: 100 });
  assert.equal(armed, 1, 'a later target keeps the earlier timer: waking early only asks the policy again');
  until = 6;
  q.push({ payload: 21, arrivalMs: 0, deadlineMs: 100 });
  assert.equal(armed, 2, 'an earlier target re-arms');
  assert.equal(clock.pending, 1, 're-arming cancelled the timer for 10: one live timer is left');
  clock.runUntilIdle();
  assert.deepEqual(dispatches, [{ atMs: 6, n: 22 }]);
  // runUntilIdle leaves the clock at the last timer that ran: the one re-armed for 6, not a stale one for 10.
  assert.equal(clock.now(), 6, 'the timer armed for 10 was cancelled when the target moved earlier');
  // A dispatch stops the timer: with the lane free again a wait arms one, and an arrival the policy sends
  // at once disarms it, without the clock moving.
  q.complete();
  until = 20;
  q.push({ payload: 22, arrivalMs: 6, deadlineMs: 100 });
  assert.equal(clock.pending, 1, 'a wait arms a timer');
  until = 6;
  q.push({ payload: 23, arrivalMs: 6, deadlineMs: 100 });
  assert.deepEqual(dispatches.at(-1), { atMs: 6, n: 2 });
  assert.equal(clock.pending, 0, 'the dispatch cancelled the timer it no longer needs');
});
