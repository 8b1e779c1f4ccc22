/**
 * Slow, stalled and departing clients on a real runtime: the header, request (body) and keep-alive timeouts,
 * the cap on open connections, `Expect: 100-continue` over the body limit, a body shorter than its
 * Content-Length, and aborted uploads logged at debug rather than as server errors.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig, serve, type Serving, type UserConfig } from 'edgebatch';
import { deployTarget } from '../helpers/deploy-target.ts';
import { connect, until, untilClosed } from '../helpers/raw-http.ts';
import { call } from '../helpers/serve.ts';

const token = 'connections-admin-token-0123';
const { dir, overrides } = deployTarget('connections', token, { scheduler: { admission: false } });
writeFileSync(
  path.join(dir, 'functions', 'echo.ts'),
  `import { z } from 'zod';
import { defineFunction } from 'edgebatch';
export default defineFunction({
  model: 'tiny',
  slo: '1s',
  input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ n: output.data.length }),
  example: { x: 1 },
});
`,
);
after(() => rmSync(dir, { recursive: true, force: true }));

/** A runtime with these limits, its log lines (pino at debug) kept in `lines`. */
async function start(limits: NonNullable<UserConfig['limits']>): Promise<{ s: Serving; lines: any[] }> {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0' };
  const s = await serve(await loadConfig('hono.config.ts', { ...overrides, limits }, env), pino({ level: 'debug' }, sink));
  return { s, lines };
}

const post = (name: string, length: number, extra = '') =>
  `POST /functions/${name} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra}\r\n`;

/** Resolves once `predicate` holds for a line of the log (the test's own time limit bounds the wait). */
async function logged(lines: any[], predicate: (l: any) => boolean): Promise<any> {
  for (;;) {
    const found = lines.find(predicate);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function outcomes(url: string, fn: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^edgebatch_requests_total\\{function="${fn}",model="tiny",outcome="(\\w+)"\\} (\\d+)`, 'gm')))
    out[m[1]] = Number(m[2]);
  return out;
}

// Every wait below is for an event; the time limits only end a run that would otherwise hang.
describe('timeouts and aborts', { timeout: 60_000 }, () => {
  let s: Serving;
  let lines: any[];
  before(async () => {
    ({ s, lines } = await start({ bodyBytes: 4096, uploadBytes: 1024, headersTimeout: 300, requestTimeout: 600, keepAliveTimeout: 300 }));
  });
  after(() => s.stop());

  test('the server carries the configured limits', () => {
    const server = s.listening.server as import('node:http').Server;
    assert.equal(server.headersTimeout, 300);
    assert.equal(server.requestTimeout, 600);
    assert.equal(server.keepAliveTimeout, 300);
    assert.equal(server.maxConnections, 4096, 'the default cap');
  });

  test('a body that stalls is answered 408 request_timeout and its connection closed; the runtime serves on', async () => {
    const socket = await connect(s.url);
    const closed = untilClosed(socket);
    socket.write(post('echo', 100) + '{"x": 1');
    const r = await closed;
    assert.equal(r.status, 408, r.text);
    assert.equal(r.json.error.code, 'request_timeout');
    assert.deepEqual((await call(s.url, 'echo', { x: 1 })).body, { n: 10 });
  });

  test('a Content-Length larger than the body sent: 408 rather than held until the client gives up', async () => {
    const socket = await connect(s.url);
    const closed = untilClosed(socket);
    const body = '{"x": 1}';
    socket.write(post('echo', body.length + 50) + body);
    const r = await closed;
    assert.equal(r.status, 408, r.text);
    assert.equal(r.json.error.code, 'request_timeout');
  });

  test('headers that never finish: 408 and the connection closed', async () => {
    const socket = await connect(s.url);
    const closed = untilClosed(socket);
    socket.write('POST /functions/echo HTTP/1.1\r\nhost: x\r\ncontent-');
    const r = await closed;
    assert.equal(r.status, 408, r.text);
    assert.equal(r.json.error.code, 'request_timeout');
  });

  test('a connection that never sends a byte is closed too', async () => {
    const r = await untilClosed(await connect(s.url));
    assert.ok(r.status === undefined || r.status === 408, r.text);
  });

  test('headers too large and bytes that are not HTTP: 431 and 400 as JSON with a code, connection closed', async () => {
    for (const [bytes, status, code] of [
      [`GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, 431, 'headers_too_large'],
      ['\x16\x03\x01 not http at all\r\n\r\n', 400, 'bad_request'],
    ] as const) {
      const socket = await connect(s.url);
      const closed = untilClosed(socket);
      socket.write(bytes);
      const r = await closed;
      assert.equal(r.status, status, r.text);
      assert.equal(r.json.error.code, code);
    }
  });

  test('an idle keep-alive connection is closed after its reply', async () => {
    const socket = await connect(s.url);
    const closed = untilClosed(socket);
    const body = '{"x": 2}';
    socket.write(post('echo', body.length) + body);
    const r = await closed;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { n: 10 });
  });

  test('Expect: 100-continue over the body limit: 413 at once, never 100 Continue', async () => {
    for (const [target, limit] of [
      ['/functions/echo', 4096],
      ['/admin/functions/echo', 1024],
    ] as const) {
      const socket = await connect(s.url);
      const closed = untilClosed(socket);
      socket.write(
        `${target.startsWith('/admin') ? 'PUT' : 'POST'} ${target} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\nexpect: 100-continue\r\ncontent-length: ${limit + 1}\r\n\r\n`,
      );
      const r = await closed;
      assert.doesNotMatch(r.text, /100 Continue/, target);
      assert.equal(r.status, 413, r.text);
      assert.equal(r.json.error.code, 'payload_too_large');
      assert.equal(r.json.error.limitBytes, limit);
    }
  });

  test('Expect: 100-continue within the limit: 100 Continue, then the answer', async () => {
    const socket = await connect(s.url);
    const body = '{"x": 3}';
    socket.write(post('echo', body.length, 'expect: 100-continue\r\nconnection: close\r\n'));
    assert.match(await until(socket, '\r\n\r\n'), /^HTTP\/1\.1 100 Continue/);
    const closed = untilClosed(socket);
    socket.write(body);
    const r = await closed;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { n: 10 });
  });

  test('aborted uploads are debug lines, counted as cancelled, never as 500s or error lines', async () => {
    const before = await outcomes(s.url, 'echo');
    const aborts = 5;
    // Each leaves once the server has its request: its headers parsed and handed to the runtime.
    const abort = async (head: string) => {
      const socket = await connect(s.url);
      const received = new Promise((r) => s.listening.server.once('request', r));
      socket.write(head);
      await received;
      socket.destroy();
    };
    for (let i = 0; i < aborts; i++) await abort(post('echo', 1000) + '{"x": ');
    // An aborted deploy upload too, read by Hono's own body reader.
    await abort(`PUT /admin/functions/echo HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: 900\r\n\r\nimport`);
    await logged(lines, (l) => l.msg === 'client went away' && l.path === '/admin/functions/echo');
    for (;;) {
      const now = await outcomes(s.url, 'echo');
      if ((now.cancelled ?? 0) - (before.cancelled ?? 0) === aborts) {
        assert.equal(now.failed ?? 0, before.failed ?? 0, 'no abort counted as failed');
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const gone = lines.filter((l) => l.msg === 'client went away');
    assert.equal(gone.length >= aborts + 1, true, `${gone.length} lines`);
    assert.ok(
      gone.every((l) => l.level === 20),
      'at debug',
    );
    assert.deepEqual(
      lines.filter((l) => l.level >= 50),
      [],
      'no error line',
    );
    assert.equal(
      lines.some((l) => l.msg === 'unhandled error'),
      false,
    );
  });
});

describe('the cap on open connections', { timeout: 60_000 }, () => {
  test('past maxConnections a new connection is closed at once, logged once as a warning; a freed slot serves again', async () => {
    const { s, lines } = await start({ maxConnections: 3, headersTimeout: '60s', requestTimeout: '60s' });
    try {
      const held = await Promise.all([1, 2, 3].map(() => connect(s.url)));
      // Each holds a request whose body has not come: the server has them open.
      for (const socket of held) socket.write(post('echo', 100));
      const refused = await Promise.all([1, 2].map(async () => untilClosed(await connect(s.url))));
      for (const r of refused) assert.equal(r.text, '', 'closed without a byte');
      const warn = await logged(lines, (l) => l.level === 40 && /maxConnections/.test(l.msg));
      assert.equal(warn.maxConnections, 3);
      assert.equal(lines.filter((l) => l.level === 40 && /maxConnections/.test(l.msg)).length, 1, 'one line, not one per connection');
      const freed = untilClosed(held[0]);
      held[0].destroy();
      await freed;
      // The client sees its socket close before the server has counted the close: a connection made in
      // between is still over the cap, so try again (a few times, 20 ms apart) until the slot is free.
      const body = '{"x": 4}';
      let r: Awaited<ReturnType<typeof untilClosed>> | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        const socket = await connect(s.url);
        const closed = untilClosed(socket);
        socket.write(post('echo', body.length, 'connection: close\r\n') + body);
        r = await closed;
        if (r.text !== '') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(r!.status, 200, r!.text);
      for (const h of held) h.destroy();
    } finally {
      await s.stop();
    }
  });
});
