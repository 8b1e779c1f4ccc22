/**
 * Overload on a real runtime over real HTTP: a burst far above capacity is refused quickly with 503 and
 * Retry-After, every call is answered, and calls after the burst are served as before (nothing the
 * scheduler learnt during the burst shuts the function off). Judged by counts and ordering, never by how
 * fast this machine is.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { startRuntime } from '../helpers/serve.ts';

let s: Serving;
before(async () => {
  s = await startRuntime();
});
after(() => s.stop());

const features = (i: number) => JSON.stringify({ features: Array.from({ length: 128 }, (_, j) => Math.sin(i + j)) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const totalMs = (timing: string | null) => Number(/total;dur=([\d.]+)/.exec(timing ?? '')?.[1] ?? NaN);

interface Reply {
  status: number;
  retryAfter: string | null;
  serverMs: number;
}

async function post(i: number): Promise<Reply> {
  try {
    const res = await fetch(`${s.url}/functions/mlp-classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: features(i),
    });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after'), serverMs: totalMs(res.headers.get('server-timing')) };
  } catch {
    return { status: -1, retryAfter: null, serverMs: NaN };
  }
}

test('a burst far above capacity gets quick 503s with Retry-After, every call is answered, and later calls are served', async () => {
  // 2,400 calls in about 0.6 s: several times what one event loop can read, parse and answer here (the
  // client shares it), so the host stage saturates and admission must refuse at the door.
  const readsBefore = s.runtime.stages.counts().read;
  const burst: Promise<Reply>[] = [];
  for (let i = 0; i < 2400; i++) {
    burst.push(post(i));
    if (i % 40 === 39) await sleep(10);
  }
  const replies = await Promise.all(burst);
  const ok = replies.filter((r) => r.status === 200);
  const shed = replies.filter((r) => r.status === 503);
  const figures = `${ok.length} served, ${shed.length} shed, ${replies.length - ok.length - shed.length} other`;
  assert.equal(ok.length + shed.length, replies.length, `every call answered 200 or 503: ${figures}`);
  assert.ok(shed.length > 0, `the burst was beyond capacity: ${figures}`);
  assert.ok(ok.length > 0, `some of the burst was served: ${figures}`);
  for (const r of shed) assert.ok(Number(r.retryAfter) >= 1, 'a 503 says when to retry');
  // A refusal is cheap: most are decided at the door, before the body is read, where a served call still
  // has its body, schema, pre, batch and post ahead of it. Every served call read its body; only calls
  // refused after their `pre` (the second admission check) read theirs and were shed.
  const reads = s.runtime.stages.counts().read - readsBefore;
  assert.ok(reads >= ok.length && reads < replies.length, `${reads} bodies read for ${figures}`);
  assert.ok(
    shed.every((r) => Number.isFinite(r.serverMs)),
    'a 503 carries Server-Timing total',
  );

  // After the burst: a trickle on the same function is served again.
  await s.runtime.pipeline('mlp')!.onIdle();
  await sleep(300);
  const trickle: Reply[] = [];
  for (let i = 0; i < 30; i++) {
    trickle.push(await post(10_000 + i));
    await sleep(30);
  }
  const served = trickle.filter((r) => r.status === 200).length;
  assert.ok(served >= 24, `after the burst, ${served} of 30 trickle calls were served`);
  assert.ok(trickle.every((r) => r.status === 200 || r.status === 503));

  // The live figures stay true: shed calls are not in the latency figures, joules stay plausible.
  const d = (await (await fetch(`${s.url}/functions/mlp-classify`)).json()) as any;
  assert.ok(d.live.p99LatencyMs >= d.live.meanLatencyMs, `p99 ${d.live.p99LatencyMs} >= mean ${d.live.meanLatencyMs}`);
  assert.ok(d.live.served < d.live.calls && d.live.shedShare > 0, 'the shed calls are counted, apart');
  assert.ok(
    Number.isFinite(d.prediction.joulesPerInference) && d.prediction.joulesPerInference > 0 && d.prediction.joulesPerInference < 1,
    `J/inf ${d.prediction.joulesPerInference}`,
  );
  assert.equal(d.fit.quality === 'good' || d.fit.quality === 'fallback', true);
  assert.ok(d.fit.alphaMs > 0, 'the fit keeps a slope after a burst of equal-size batches');
});

test('joules per inference are finite and plausible after a single call on a quiet model', async () => {
  const res = await fetch(`${s.url}/functions/text-direction`);
  const before = (await res.json()) as any;
  const call = await fetch(`${s.url}/functions/text-direction`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(before.example),
  });
  assert.equal(call.status, 200);
  await call.arrayBuffer();
  await sleep(2000); // the live rate decays toward 0
  const d = (await (await fetch(`${s.url}/functions/text-direction`)).json()) as any;
  const j = d.prediction.joulesPerInference;
  // One lone call of a ~2 ms model at 65 W busy: about 0.1-0.5 J, never 1e16 J.
  assert.ok(Number.isFinite(j) && j > 0 && j < 5, `J/inf ${j}`);
});
