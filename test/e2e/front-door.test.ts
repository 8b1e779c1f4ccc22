/**
 * The front door answers refusals on Node's request event, before Hono. It must answer exactly what the
 * Hono route answers for the same call (status, error body, Retry-After, request id), leave the connection
 * usable (the unread body flows past), and hand admitted calls on to be served.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { invokedFunction, requestSlo } from '../../runtime/server/front-door.ts';
import { startRuntime } from '../helpers/serve.ts';

describe('front door, pure parts', () => {
  test('invokedFunction reads /functions/<name> as the Hono route does', () => {
    assert.equal(invokedFunction('/functions/mlp-classify'), 'mlp-classify');
    assert.equal(invokedFunction('/functions/mlp-classify?x=1'), 'mlp-classify');
    assert.equal(invokedFunction('/functions/a%2Db'), 'a-b');
    for (const url of ['/functions/', '/functions', '/functions/a/b', '/functions/a/', '/other/a', '/functions/%E0%A4%A', undefined]) {
      assert.equal(invokedFunction(url), undefined, String(url));
    }
  });
  test('requestSlo accepts a positive number of ms and names what it got otherwise', () => {
    assert.equal(requestSlo(undefined), undefined);
    assert.equal(requestSlo('25'), 25);
    for (const bad of ['0', '-3', 'soon', ''])
      assert.match(String((requestSlo(bad) as Error).message), /x-slo-ms must be a positive number/);
  });
});

describe('front door, on a real runtime', () => {
  let s: Serving;
  before(async () => {
    s = await startRuntime();
  });
  after(() => s.stop());

  const body = JSON.stringify({ features: Array.from({ length: 128 }, (_, j) => Math.cos(j)) });
  const cases: { what: string; path: string; headers: Record<string, string>; status: number; code?: string }[] = [
    { what: 'an unknown function', path: '/functions/no-such-fn', headers: {}, status: 404, code: 'not_found' },
    { what: 'a bad x-slo-ms', path: '/functions/mlp-classify', headers: { 'x-slo-ms': 'soon' }, status: 400, code: 'bad_request' },
    {
      what: 'an SLO no call can meet',
      path: '/functions/mlp-classify',
      headers: { 'x-slo-ms': '0.0001' },
      status: 503,
      code: 'overloaded',
    },
    { what: 'a call it admits', path: '/functions/mlp-scores', headers: {}, status: 200 },
  ];
  for (const c of cases) {
    test(`${c.what}: the door (over HTTP) answers what the Hono route answers (app.request)`, async () => {
      const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-1', ...c.headers }, body };
      const viaDoor = await fetch(`${s.url}${c.path}`, init);
      const viaHono = await s.app.request(c.path, init);
      const bodies: any[] = [];
      for (const res of [viaDoor, viaHono]) {
        const json = (await res.json()) as any;
        bodies.push(json);
        assert.equal(res.status, c.status);
        assert.equal(json.error?.code, c.code);
        assert.equal(res.headers.get('x-request-id'), 'client-id-1', 'the client request id comes back');
        assert.match(res.headers.get('server-timing') ?? '', /total;dur=[\d.]+/);
        if (c.status === 503) assert.ok(Number(res.headers.get('retry-after')) >= 1);
        if (c.status === 200) assert.equal(json.scores.length, 10);
      }
      // The same reply both ways: the error body field by field (a refusal's message quotes the times it
      // predicted, which differ between two calls), Retry-After, and for a served call the same scores.
      const [door, hono] = bodies;
      if (c.status === 200) door.scores.forEach((x: number, i: number) => assert.ok(Math.abs(x - hono.scores[i]) < 1e-6, `score ${i}`));
      else if (c.status === 503) assert.deepEqual({ ...door.error, message: undefined }, { ...hono.error, message: undefined });
      else assert.deepEqual(door, hono);
      assert.equal(viaDoor.headers.get('retry-after'), viaHono.headers.get('retry-after'));
    });
  }

  test('a refusal leaves the connection usable: the next request on it is served', async () => {
    const u = new URL(s.url);
    const req = (headers: string) =>
      `POST /functions/mlp-scores HTTP/1.1\r\nhost: ${u.host}\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const socket = net.connect(Number(u.port), u.hostname);
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    // Two requests back to back on one connection: the first refused at the door, body unread.
    socket.write(req('x-slo-ms: 0.0001\r\n') + req('x-request-id: second\r\n'));
    const deadline = Date.now() + 30_000;
    while (!/x-batch-size/i.test(text) && Date.now() < deadline && !socket.destroyed) await new Promise((r) => setTimeout(r, 20));
    socket.destroy();
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [503, 200], text.slice(0, 600));
    assert.match(text, /x-request-id: second/i);
  });

  test('a refused call with no declared length closes its connection rather than read an unbounded body', async () => {
    const u = new URL(s.url);
    const socket = net.connect(Number(u.port), u.hostname);
    let text = '';
    socket.on('data', (d) => (text += d.toString('latin1')));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write(
      `POST /functions/mlp-classify HTTP/1.1\r\nhost: ${u.host}\r\nx-slo-ms: 0.0001\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"fea\r\n`,
    );
    await closed;
    assert.match(text, /^HTTP\/1\.1 503/);
    assert.match(text, /connection: close/i);
  });
});
