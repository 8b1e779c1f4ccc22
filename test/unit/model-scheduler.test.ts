/**
 * ModelScheduler against a fake device in virtual time: what it learns, and that nothing it learns can shut
 * a function off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelScheduler } from '../../runtime/scheduler/model-scheduler.ts';
import { greedyPolicy } from '../../runtime/scheduler/policies/index.ts';
import { idleHost, type HostView, type Pending } from '../../runtime/scheduler/types.ts';
import { VirtualClock } from '../../runtime/scheduler/virtual-clock.ts';

function harness(deviceMs: (b: number) => number, host: () => HostView = () => idleHost) {
  const clock = new VirtualClock();
  const served: number[] = [];
  const expired: number[] = [];
  const sched: ModelScheduler<number> = new ModelScheduler<number>({
    clock,
    policy: greedyPolicy,
    maxBatch: 32,
    lanes: 1,
    fitWindow: 50,
    marginMs: 2,
    meanObjectiveFraction: 0.5,
    overloadFactor: 2,
    hostLagFraction: 0.1,
    host,
    dispatch: (batch) => {
      const ms = deviceMs(batch.length);
      clock.setTimer(() => {
        served.push(...batch.map((b) => b.payload));
        sched.finished(batch, ms);
      }, ms);
    },
    onExpire: (items) => expired.push(...items.map((i) => i.payload)),
  });
  sched.setTightestSlo(50);
  return { clock, sched, served, expired };
}

test('a fit that predicts every call late does not shut the model off: an idle model runs what it has, and learns', () => {
  // The state an overload left behind in an earlier version: the fit says a batch costs 51 ms, the SLO is 50.
  const h = harness(() => 1);
  for (const b of [1, 8, 1, 8, 1, 8]) h.sched.probed(b, 51);
  assert.ok(h.sched.fit.predict(1)! > 50);
  // A trickle: one call every 100 ms, each admitted at the door (an idle model admits whatever can still
  // make its deadline) and queued.
  for (let i = 0; i < 40; i++) {
    h.clock.advanceTo(i * 100);
    const deadlineMs = h.clock.now() + 50;
    assert.equal(h.sched.admit(deadlineMs, 'door', 50).admit, true, `call ${i} admitted at the door`);
    assert.equal(h.sched.admit(deadlineMs, 'queued', 50).admit, true, `call ${i} admitted after pre`);
    h.sched.push({ payload: i, arrivalMs: h.clock.now(), deadlineMs } satisfies Pending<number>);
  }
  h.clock.runUntilIdle();
  assert.equal(h.served.length, 40, `every call served, none expired (${h.expired.length} expired)`);
  assert.ok(h.sched.fit.predict(1)! < 10, `the fit learnt the real cost: predict(1) = ${h.sched.fit.predict(1)}`);
});

test('under a backlog, items that can no longer make it are expired, the rest run', () => {
  const h = harness((b) => 10 + b);
  for (const b of [1, 8, 1, 8]) h.sched.probed(b, 10 + b);
  // 100 items at once, SLO 50: the first batches make it, the tail cannot.
  for (let i = 0; i < 100; i++) h.sched.push({ payload: i, arrivalMs: 0, deadlineMs: 50 });
  h.clock.runUntilIdle();
  assert.ok(h.served.length > 0 && h.expired.length > 0, `served ${h.served.length}, expired ${h.expired.length}`);
  assert.equal(h.served.length + h.expired.length, 100, 'every item answered');
});

test('the loop lag is charged once: it shrinks the objective and sheds at the door only past its budget', () => {
  let lagMs = 0;
  const h = harness(
    () => 1,
    () => ({ ...idleHost, lagMs }),
  );
  for (const b of [1, 8, 1, 8]) h.sched.probed(b, 1 + 0.1 * b);
  assert.equal(h.sched.objectiveMs(), 25);
  lagMs = 4;
  assert.equal(h.sched.objectiveMs(), 21);
  assert.equal(h.sched.admit(50, 'door', 50).admit, true, '4 ms of lag is within 10% of a 50 ms SLO');
  lagMs = 6;
  const d = h.sched.admit(50, 'door', 50);
  assert.ok(!d.admit && /event loop is saturated/.test(d.reason));
  assert.equal(h.sched.admit(50, 'queued', 50).admit, true, 'once read and prepared, lag no longer refuses a call');
});
