import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admit, type AdmissionInput } from '../../runtime/scheduler/admission.ts';

// tau(b) = 1 ms * b + 4 ms; maxBatch 8.
const base: AdmissionInput = {
  nowMs: 1000,
  deadlineMs: 1050,
  itemsAhead: 0,
  runningRemainingMs: 0,
  maxBatch: 8,
  lanes: 1,
  predictMs: (b) => 1 * b + 4,
  cost: { alpha: 0.001, tau0: 0.004 },
  ratePerSec: 100,
  objectiveMs: 25,
  overloadFactor: 2,
};

test('an idle model admits a call whose deadline has not passed, whatever the fit says', () => {
  const d = admit({ ...base, deadlineMs: 1002 });
  assert.equal(d.admit, true);
  assert.equal(admit({ ...base, deadlineMs: 999 }).admit, false, 'a deadline already past is shed even when idle');
});

test('a call is shed when the batches ahead of it end after its deadline', () => {
  // 20 items ahead: two full batches of 8 (12 ms each) + its own batch of 5 (9 ms) + 6 ms still running = 39 ms.
  const fits = admit({ ...base, itemsAhead: 20, runningRemainingMs: 6, deadlineMs: 1040 });
  assert.equal(fits.admit, true);
  assert.equal(fits.admit && Math.round(fits.predictedDoneMs!), 1039);
  const late = admit({ ...base, itemsAhead: 20, runningRemainingMs: 6, deadlineMs: 1038 });
  assert.equal(late.admit, false);
  assert.ok(!late.admit && /39 ms from now/.test(late.reason), !late.admit ? late.reason : '');
  assert.ok(!late.admit && late.retryAfterSec >= 1);
});

test('two lanes halve the wait behind queued batches', () => {
  const one = admit({ ...base, itemsAhead: 32, deadlineMs: 1040 });
  const two = admit({ ...base, itemsAhead: 32, lanes: 2, deadlineMs: 1040 });
  assert.equal(one.admit, false);
  assert.equal(two.admit, true);
});

test('a busy model is shed when the bound at the live rate exceeds the objective times the factor, or load is unstable', () => {
  // rho = 0.9: U is far above 2 x 25 ms.
  const over = admit({ ...base, itemsAhead: 1, ratePerSec: 900, deadlineMs: 5000 });
  assert.equal(over.admit, false);
  assert.ok(!over.admit && /predicted mean latency/.test(over.reason));
  const unstable = admit({ ...base, itemsAhead: 1, ratePerSec: 2000, deadlineMs: 5000 });
  assert.ok(!unstable.admit && /unbounded/.test(unstable.reason));
  assert.equal(admit({ ...base, itemsAhead: 1, ratePerSec: 100, deadlineMs: 5000 }).admit, true);
});

test('without a cost fit every call is admitted', () => {
  assert.equal(admit({ ...base, predictMs: () => undefined, cost: undefined, itemsAhead: 1000, deadlineMs: 1001 }).admit, true);
});

test('at the door, a saturated event loop (lag over its budget) sheds before anything about the device', () => {
  const d = admit({ ...base, hostLagMs: 12, hostLagBudgetMs: 5 });
  assert.equal(d.admit, false);
  assert.ok(!d.admit && /event loop is saturated/.test(d.reason) && d.retryAfterSec === 1);
  assert.equal(admit({ ...base, hostLagMs: 4, hostLagBudgetMs: 5 }).admit, true);
});

test('the mean check judges the whole path: the host stage mean is added to the device bound', () => {
  // U(100/s) is about 7 ms; with 50 ms of host time on top it exceeds 2 x 25 ms.
  assert.equal(admit({ ...base, itemsAhead: 1, deadlineMs: 5000 }).admit, true);
  const d = admit({ ...base, itemsAhead: 1, deadlineMs: 5000, hostMeanMs: 50 });
  assert.equal(d.admit, false);
});

test('an idle model admits whatever learnt host times say: only the live lag and a passed deadline refuse', () => {
  assert.equal(admit({ ...base, extraMs: 500 }).admit, true, 'a host estimate of 500 ms left by an overload does not refuse an idle model');
  assert.equal(admit({ ...base, extraMs: 500, itemsAhead: 1 }).admit, false, 'with work ahead the estimate counts');
});

test('after pre, a refused call whose own work alone exceeds its SLO never fits; a busy model only delays one that would', () => {
  // Own work 60 ms measured alone + its batch alone (5 ms) > a 50 ms SLO: no retry can help.
  const never = admit({ ...base, nowMs: 1060, deadlineMs: 1050, ownHostMs: 60, sloMs: 50, itemsAhead: 3 });
  assert.equal(never.admit, false);
  assert.ok(!never.admit && never.neverFits === true && never.retryAfterSec === 0, JSON.stringify(never));
  assert.ok(
    !never.admit &&
      /65 ms even on an idle runtime \(60 ms to prepare, 5\.0 ms on the device\), more than its SLO of 50 ms/.test(never.reason),
    !never.admit ? never.reason : '',
  );
  // Own work 10 ms, but 40 items ahead: late now, would fit on a less busy runtime.
  const busy = admit({ ...base, nowMs: 1010, deadlineMs: 1050, ownHostMs: 10, sloMs: 50, itemsAhead: 40 });
  assert.ok(!busy.admit && !busy.neverFits && busy.retryAfterSec >= 1, JSON.stringify(busy));
  // The same expensive call with its time not measured alone (others ran beside it): a plain refusal.
  const shared = admit({ ...base, nowMs: 1060, deadlineMs: 1050, sloMs: 50, itemsAhead: 3 });
  assert.ok(!shared.admit && !shared.neverFits && shared.retryAfterSec >= 1);
  // A learnt post time (taken while the loop was busy) is no part of its own cost: 10 + 5 ms fits in 50 ms,
  // however long the learnt 40 ms makes it look, so a busy runtime gets a retry, not a 422.
  const learnt = admit({ ...base, nowMs: 1010, deadlineMs: 1050, ownHostMs: 10, sloMs: 50, extraMs: 40, itemsAhead: 40 });
  assert.ok(!learnt.admit && !learnt.neverFits && learnt.retryAfterSec >= 1, JSON.stringify(learnt));
  // An idle model still takes a call whose deadline has not passed, whatever its own work predicts.
  assert.equal(admit({ ...base, nowMs: 1040, deadlineMs: 1050, ownHostMs: 40, sloMs: 50, predictMs: (b) => 30 * b }).admit, true);
});
