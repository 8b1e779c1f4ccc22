/**
 * The access log: one line per call at the configured level, none when that level is off.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig, serve } from 'edgebatch';
import { call } from '../helpers/serve.ts';
import { fixtures } from '../helpers/fixtures.ts';

async function accessLines(accessLog: 'debug' | 'info', calls: (base: string) => Promise<unknown>) {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', EDGEBATCH_ACCESS_LOG: accessLog };
  const s = await serve(await loadConfig('hono.config.ts', { scheduler: { admission: false } }, env), pino({ level: 'info' }, sink));
  try {
    await calls(s.url);
  } finally {
    await s.stop();
  }
  return lines.filter((l) => l.log === 'access');
}

test('access lines at info: one per call, with status, path and request id', async () => {
  const lines = await accessLines('info', async (base) => {
    assert.equal((await call(base, 'text-direction', { image: fixtures[0].base64 }, { headers: { 'x-request-id': 'ok-1' } })).status, 200);
    assert.equal((await call(base, 'text-direction', '{not json')).status, 400);
    assert.equal((await fetch(`${base}/no-such-route`)).status, 404);
  });
  assert.deepEqual(
    lines.map((l) => [l.method, l.path, l.status]),
    [
      ['POST', '/functions/text-direction', 200],
      ['POST', '/functions/text-direction', 400],
      ['GET', '/no-such-route', 404],
    ],
  );
  assert.equal(lines[0].requestId, 'ok-1');
  assert.equal(typeof lines[0].ms, 'number');
});

test('access lines at debug write nothing when the log level is info', async () => {
  const lines = await accessLines('debug', async (base) => {
    assert.equal((await call(base, 'text-direction', { image: fixtures[0].base64 })).status, 200);
  });
  assert.deepEqual(lines, []);
});
