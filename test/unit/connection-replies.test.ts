/** The pure parts of the server's own replies: client errors, the body limit of a route, the timeout check's interval. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientErrorReply } from '../../runtime/server/client-error.ts';
import { bodyLimitOf } from '../../runtime/server/expect-continue.ts';
import { timeoutCheckIntervalMs } from '../../runtime/server/listen.ts';

const timeouts = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };
const coded = (code: string) => Object.assign(new Error(code), { code });

test('a client error becomes a status and a code: 408 for a timeout, 431 for huge headers, else 400', () => {
  const t = clientErrorReply(coded('ERR_HTTP_REQUEST_TIMEOUT'), timeouts);
  assert.deepEqual([t.status, t.code], [408, 'request_timeout']);
  assert.match(t.message, /10000 ms.*30000 ms/);
  assert.deepEqual(
    [clientErrorReply(coded('HPE_HEADER_OVERFLOW'), timeouts).status, clientErrorReply(coded('HPE_HEADER_OVERFLOW'), timeouts).code],
    [431, 'headers_too_large'],
  );
  const bad = clientErrorReply(coded('HPE_INVALID_METHOD'), timeouts);
  assert.deepEqual([bad.status, bad.code], [400, 'bad_request']);
  assert.match(bad.message, /HPE_INVALID_METHOD/);
});

test('the body limit of a route: uploads under /admin/, every other body the call limit', () => {
  const limits = { bodyBytes: 1000, uploadBytes: 10 };
  assert.equal(bodyLimitOf('/admin/functions/x', limits), 10);
  assert.equal(bodyLimitOf('/functions/x', limits), 1000);
  assert.equal(bodyLimitOf('/v2/models/m/infer', limits), 1000);
  assert.equal(bodyLimitOf(undefined, limits), 1000);
});

test('timeouts are checked every quarter of the shorter one, between 50 ms and 1 s', () => {
  assert.equal(timeoutCheckIntervalMs({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 } as never), 1000);
  assert.equal(timeoutCheckIntervalMs({ headersTimeoutMs: 300, requestTimeoutMs: 600 } as never), 75);
  assert.equal(timeoutCheckIntervalMs({ headersTimeoutMs: 40, requestTimeoutMs: 40 } as never), 50);
});
