/**
 * Who may open the dashboard: anyone on loopback; elsewhere, whoever gives the admin token (HTTP Basic,
 * the token as password); elsewhere without a token, no one. Through Hono's app.request, no socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hono } from 'hono';
import { dashboardAccess } from '../../runtime/server/dashboard/access.ts';

function appBehind(host: string, token: string | undefined): Hono {
  const app = new Hono();
  app.use('*', dashboardAccess(host, token));
  app.get('/', (c) => c.text('dashboard'));
  return app;
}
const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}` });

test('on loopback the page opens with no login', async () => {
  for (const host of ['127.0.0.1', 'localhost', '::1']) assert.equal((await appBehind(host, undefined).request('/')).status, 200, host);
});

test('on another address it asks for the admin token and takes only the right one', async () => {
  const app = appBehind('0.0.0.0', 's3cret');
  const none = await app.request('/');
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="edgebatch dashboard"/);
  assert.equal((await app.request('/', { headers: basic('wrong') })).status, 401);
  const ok = await app.request('/', { headers: basic('s3cret') });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'dashboard');
});

test('on another address without a token it is off, and says why', async () => {
  const res = await appBehind('10.0.0.5', undefined).request('/');
  assert.equal(res.status, 403);
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'dashboard_off');
  assert.match(body.error.message, /10\.0\.0\.5.*admin token/);
});
