import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callBudget, forwardedSlo, remainingMs } from '../../runtime/edge/budget.ts';
import { OriginPool } from '../../runtime/edge/origin-pool.ts';
import { rendezvousOrder } from '../../runtime/edge/rendezvous.ts';
import { shouldTryNext, retryAfterMs } from '../../runtime/edge/retry.ts';
import { routeOrder } from '../../runtime/edge/route.ts';
import { readSettings } from '../../runtime/edge/settings.ts';
import { formatLoad, parseLoad } from '../../runtime/shared/edge-protocol.ts';

const origins = Array.from({ length: 5 }, (_, i) => `http://10.0.0.${i + 1}:8787`);
const models = Array.from({ length: 2000 }, (_, i) => `model-${i}`);
const view = (urls: string[], util: Record<string, number> = {}, down: string[] = []) =>
  urls.map((url) => ({ url, available: !down.includes(url), utilization: util[url] }));
const opts = { routing: 'rendezvous' as const, spread: 2, spillAt: 0.8, turn: 0 };

describe('rendezvous hashing', () => {
  test('the same order whatever the order origins are listed in, and a balanced share of first places', () => {
    const firsts = new Map<string, number>();
    for (const m of models) {
      const order = rendezvousOrder(m, origins);
      assert.deepEqual(rendezvousOrder(m, [...origins].reverse()), order);
      firsts.set(order[0], (firsts.get(order[0]) ?? 0) + 1);
    }
    // 2000 keys over 5 origins: 400 each expected; a fair hash stays well inside 300..500.
    for (const o of origins) assert.ok(firsts.get(o)! > 300 && firsts.get(o)! < 500, `${o}: ${firsts.get(o)}`);
  });

  test('removing an origin moves only the keys it ranked first', () => {
    const gone = origins[2];
    const rest = origins.filter((o) => o !== gone);
    let moved = 0;
    for (const m of models) {
      const before = rendezvousOrder(m, origins);
      const after = rendezvousOrder(m, rest);
      if (before[0] !== gone) assert.equal(after[0], before[0], m);
      else (moved++, assert.equal(after[0], before[1]));
    }
    assert.ok(moved > 0);
  });
});

describe('route order', () => {
  test('a model goes to its first-ranked origin, the rest follow in rank order as failover', () => {
    const rank = rendezvousOrder('mlp', origins);
    assert.deepEqual(routeOrder('mlp', view(origins), opts), rank);
  });

  test('a loaded first origin spills to the next of the top spread, and a down one is left out', () => {
    const rank = rendezvousOrder('mlp', origins);
    assert.deepEqual(routeOrder('mlp', view(origins, { [rank[0]]: 0.9 }), opts).slice(0, 2), [rank[1], rank[0]]);
    // Both of the top 2 loaded: the less loaded of them, never the third.
    assert.equal(routeOrder('mlp', view(origins, { [rank[0]]: 0.95, [rank[1]]: 0.85 }), opts)[0], rank[1]);
    assert.equal(routeOrder('mlp', view(origins, { [rank[0]]: 0.85, [rank[1]]: 0.95 }), opts)[0], rank[0]);
    const withoutFirst = routeOrder('mlp', view(origins, {}, [rank[0]]), opts);
    assert.deepEqual(withoutFirst, rank.slice(1));
    assert.deepEqual(routeOrder('mlp', view(origins, {}, origins), opts), []);
  });

  test('round-robin turns through the available origins', () => {
    const firsts = [0, 1, 2, 3, 4, 5].map(
      (turn) => routeOrder('mlp', view(origins.slice(0, 3)), { ...opts, routing: 'round-robin', turn })[0],
    );
    assert.deepEqual(firsts, [...origins.slice(0, 3), ...origins.slice(0, 3)]);
  });
});

describe('retry decisions and budgets', () => {
  test('only a 503 or an unreachable origin moves on, while an origin and a hop of budget are left', () => {
    assert.equal(shouldTryNext({ kind: 'answer', status: 503 }, 50, 2, 1), true);
    assert.equal(shouldTryNext({ kind: 'unreachable' }, 50, 2, 1), true);
    assert.equal(shouldTryNext({ kind: 'unreachable' }, 50, 2, 0), false);
    assert.equal(shouldTryNext({ kind: 'answer', status: 503 }, 1.5, 2, 2), false);
    assert.equal(shouldTryNext({ kind: 'timeout' }, 50, 2, 2), false);
    for (const status of [200, 400, 404, 413, 500])
      assert.equal(shouldTryNext({ kind: 'answer', status }, 50, 2, 2), false, String(status));
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(null), 1000);
  });

  test("the budget is the tighter of the SLO and the caller's x-slo-ms, counted from arrival", () => {
    assert.equal(callBudget(100, 50, null, 10_000).totalMs, 50);
    assert.equal(callBudget(100, 50, '20', 10_000).totalMs, 20);
    assert.equal(callBudget(100, 50, '80', 10_000).totalMs, 50);
    assert.equal(callBudget(100, 50, 'soon', 10_000).totalMs, 50);
    assert.equal(callBudget(100, undefined, null, 10_000).totalMs, 10_000);
    const b = callBudget(100, 50, null, 10_000);
    assert.equal(remainingMs(b, 130), 20);
    assert.equal(forwardedSlo(19.99), '19.9');
  });
});

describe('origin pool', () => {
  test('marked down after consecutive failures, probed after its rest, taken back when ready', () => {
    const pool = new OriginPool(origins.slice(0, 2), { downAfterFailures: 2, probeIntervalMs: 500 });
    const [a] = origins;
    assert.equal(pool.failed(a, 0), false);
    assert.equal(pool.failed(a, 1), true);
    assert.equal(pool.view('mlp', 'f', 2)[0].available, false);
    assert.deepEqual(pool.takeDueProbes(100), []);
    assert.deepEqual(pool.takeDueProbes(501), [a]);
    assert.deepEqual(pool.takeDueProbes(502), [], 'one probe at a time');
    pool.probed(a, false, 600);
    assert.deepEqual(pool.takeDueProbes(1099), []);
    assert.deepEqual(pool.takeDueProbes(1100), [a]);
    pool.probed(a, true, 1150);
    assert.equal(pool.view('mlp', 'f', 1200)[0].available, true);
  });

  test('a shed backs off only that function, for its Retry-After; load reports give utilisation', () => {
    const pool = new OriginPool(origins.slice(0, 1), { downAfterFailures: 2, probeIntervalMs: 500 });
    const [a] = origins;
    pool.shed(a, 'tight', 0, 120);
    assert.equal(pool.view('mlp', 'tight', 100)[0].available, false);
    assert.equal(pool.view('mlp', 'loose', 100)[0].available, true);
    assert.equal(pool.view('mlp', 'tight', 121)[0].available, true);
    assert.equal(pool.nextChanceMs('tight', 20), 100);
    pool.answered(a, 'mlp', 0, parseLoad(formatLoad({ waiting: 2, ratePerSec: 80, maxRatePerSec: 100 })));
    assert.equal(pool.view('mlp', 'x', 10)[0].utilization, 0.8);
    assert.equal(pool.view('mlp', 'x', 5000)[0].utilization, undefined, 'an old report says nothing');
  });

  test('the load header round-trips and a malformed one is ignored', () => {
    assert.deepEqual(parseLoad(formatLoad({ waiting: 3, ratePerSec: 812.5, maxRatePerSec: null })), {
      waiting: 3,
      ratePerSec: 812.5,
      maxRatePerSec: null,
    });
    assert.equal(parseLoad('waiting=x'), undefined);
    assert.equal(parseLoad(null), undefined);
  });
});

describe('settings', () => {
  test('defaults, and a TypeError that names a bad variable', () => {
    const s = readSettings({ ORIGINS: 'http://a:1, http://b:2/' });
    assert.deepEqual(s.origins, ['http://a:1', 'http://b:2']);
    assert.equal(s.routing, 'rendezvous');
    assert.throws(() => readSettings({}), /ORIGINS/);
    assert.throws(() => readSettings({ ORIGINS: 'http://a:1', SPREAD: '0' }), /SPREAD must be a positive integer, got "0"/);
    assert.throws(() => readSettings({ ORIGINS: 'http://a:1', ROUTING: 'random' }), /ROUTING/);
  });
});
