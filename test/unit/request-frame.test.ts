/**
 * The request frame (runtime/server/request-frame.ts) around a real Hono app, through `app.request()`: the
 * arrival and request id a route sees, the id on every reply, the in-flight count a graceful stop waits on,
 * and `Connection: close` while draining. The same frame behind Node is exercised by the e2e tests
 * (front-door, connections, runtime).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { HostMonitor } from '../../runtime/host/host-monitor.ts';
import type { AppEnv } from '../../runtime/server/app-env.ts';
import { InFlight } from '../../runtime/server/in-flight.ts';
import { framed, requestIdFrom } from '../../runtime/server/request-frame.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A framed app whose `/wait` route answers when the test releases it. */
function framedApp() {
  const host = new HostMonitor();
  const inFlight = new InFlight();
  let release: () => void = () => {};
  const seen: { arrivalMs: number; requestId: string }[] = [];
  const app = new Hono<AppEnv>()
    .get('/now', (c) => {
      seen.push({ arrivalMs: c.env.arrivalMs, requestId: c.env.requestId });
      return c.json({ ok: true });
    })
    .get('/wait', async (c) => {
      await new Promise<void>((r) => (release = r));
      return c.json({ ok: true });
    })
    .get('/throws', () => {
      throw new Error('boom');
    });
  app.onError((_err, c) => c.json({ error: 'failed' }, 500));
  app.fetch = framed(app.fetch, host, inFlight);
  return { app, inFlight, seen, release: () => release() };
}

test('a route sees its arrival and request id; the reply carries the id, the client one when it is sane', async () => {
  const f = framedApp();
  const before = performance.now();
  const mine = await f.app.request('/now', { headers: { 'x-request-id': 'client_id-1=' } });
  assert.equal(mine.status, 200);
  assert.equal(mine.headers.get('x-request-id'), 'client_id-1=');
  assert.equal(f.seen[0].requestId, 'client_id-1=');
  assert.ok(f.seen[0].arrivalMs >= before - 1 && f.seen[0].arrivalMs <= performance.now(), 'arrival is when the request came in');
  for (const bad of ['has space', 'x'.repeat(256), '']) {
    const res = await f.app.request('/now', { headers: { 'x-request-id': bad } });
    assert.match(res.headers.get('x-request-id') ?? '', uuid, `"${bad.slice(0, 20)}" is replaced by a new id`);
  }
  assert.match((await f.app.request('/now')).headers.get('x-request-id') ?? '', uuid);
  const failed = await f.app.request('/throws', { headers: { 'x-request-id': 'err-1' } });
  assert.equal(failed.status, 500);
  assert.equal(failed.headers.get('x-request-id'), 'err-1', 'an error reply carries it too');
});

test('requests are counted in flight until answered; idle() waits for the last; draining closes connections', async () => {
  const f = framedApp();
  const waiting = f.app.request('/wait');
  assert.equal(f.inFlight.count, 1);
  let idle = false;
  const idled = f.inFlight.idle().then(() => (idle = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(idle, false, 'not idle while a request is unanswered');
  f.inFlight.draining = true;
  f.release();
  const res = await waiting;
  await idled;
  assert.equal(f.inFlight.count, 0);
  assert.equal(res.headers.get('connection'), 'close', 'a reply made while draining tells the client to close');
  assert.equal((await f.app.request('/throws')).status, 500);
  assert.equal(f.inFlight.count, 0, 'a failed request leaves the count too');
});

test('requestIdFrom keeps a sane client token and makes a UUID otherwise', () => {
  assert.equal(requestIdFrom('abc-DEF_1='), 'abc-DEF_1=');
  assert.match(requestIdFrom(['a', 'b']), uuid);
  assert.match(requestIdFrom(undefined), uuid);
  assert.match(requestIdFrom(null), uuid);
  assert.match(requestIdFrom('a/b'), uuid);
});
