import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { rendezvousOrder } from '../../runtime/edge/rendezvous.ts';
import { startCli, eventually, type Running } from '../helpers/cli.ts';
import { startEdge, type RunningEdge } from '../helpers/edge.ts';
import { openLoop, type Sent } from '../helpers/open-loop.ts';
import { call } from '../helpers/serve.ts';

// Three real runtimes (`edgebatch start`, separate processes, so one can be SIGKILLed) behind the real
// Worker in workerd, all on loopback. The MLP model serves mlp-classify and mlp-scores; ocr-cls serves
// needs-rotation and text-direction.

const features = () => ({ features: Array.from({ length: 128 }, (_, i) => Math.sin(i)) });
const portOf = (url: string) => Number(new URL(url).port);
const meanBatch = (sent: Sent[]) => {
  const ok = sent.filter((s) => s.status === 200);
  return ok.reduce((a, s) => a + Number(s.headers.get('x-batch-size')), 0) / ok.length;
};
const status = async (edge: RunningEdge) =>
  (await (await fetch(`${edge.url}/edge/status`)).json()) as { origins: { url: string; down: boolean }[] };
/** Calls a function's recent call count on one runtime (its live figures). */
/** Calls of `fn` a runtime answered 503 (shed), from its /metrics. */
const shedAt = async (base: string, fn: string) =>
  Number(
    new RegExp(`edgebatch_requests_total\\{function="${fn}",model="[^"]+",outcome="shed"\\} (\\d+)`).exec(
      await (await fetch(`${base}/metrics`)).text(),
    )?.[1] ?? 0,
  );
const callsSeen = async (base: string, fn: string) =>
  ((await (await fetch(`${base}/functions/${fn}`)).json()) as { live: { calls: number } }).live.calls;

/**
 * A call answered 200: on this shared machine a runtime may shed a tight-SLO call (503, a legal answer that
 * the failover test covers), so a few tries are allowed before comparing served answers.
 */
async function served(base: string, name: string, body: unknown) {
  let r = await call(base, name, body);
  for (let i = 0; i < 5 && r.status === 503; i++) {
    await new Promise((ok) => setTimeout(ok, 200));
    r = await call(base, name, body);
  }
  return r;
}

let runtimes: Running[] = [];
let origins: string[] = [];
let examples: Record<string, unknown> = {};

before(async () => {
  runtimes = await Promise.all([0, 1, 2].map(() => startCli(['start'])));
  origins = runtimes.map((r) => r.url);
  const list = (await (await fetch(`${origins[0]}/functions`)).json()) as { functions: { name: string }[] };
  for (const { name } of list.functions)
    examples[name] = ((await (await fetch(`${origins[0]}/functions/${name}`)).json()) as { example: unknown }).example;
});

after(async () => {
  for (const r of runtimes) r.proc.kill('SIGKILL');
});

describe('the edge in front of three runtimes', () => {
  let edge: RunningEdge;
  let rr: RunningEdge;
  before(async () => {
    // Spilling off: on this shared 2-core machine the formula's max rate swings with the other processes'
    // load, and this edge is here to show affinity and failover (route.test.ts covers spilling).
    edge = await startEdge({ ORIGINS: origins.join(','), MAX_BODY_BYTES: String(512 * 1024), SPILL_AT: '1000' });
    // The same Worker routing round-robin: the baseline for affinity.
    rr = await startEdge({ ORIGINS: origins.join(','), ROUTING: 'round-robin' });
    // An isolate's first call waits for the catalog (GET /functions) inside its own budget: pay it here.
    for (const e of [edge, rr]) assert.equal((await call(e.url, 'mlp-scores', features())).status, 200);
  });
  after(async () => {
    await edge.stop();
    await rr.stop();
  });

  test('every example function answers through the edge as it does directly, with the same headers and an edge entry', async () => {
    for (const [name, example] of Object.entries(examples)) {
      const via = await served(edge.url, name, example);
      const direct = await served(via.headers.get('x-edge-origin')!, name, example);
      assert.equal(via.status, direct.status, name);
      assert.deepEqual(via.body, direct.body, name);
      for (const h of ['x-function-version', 'x-batch-size', 'x-batch-id', 'x-request-id', 'x-edgebatch-load'])
        assert.ok(via.headers.get(h), `${name}: ${h}`);
      assert.equal(via.headers.get('x-function-version'), direct.headers.get('x-function-version'));
      assert.match(via.headers.get('server-timing')!, /inference;dur=.*edge;dur=[\d.]+/, name);
      assert.ok(origins.includes(via.headers.get('x-edge-origin')!), name);
    }
    // Errors are the runtime's own: bad JSON, bad input, unknown function, a malformed x-slo-ms.
    const cases: [string, unknown, Record<string, string>][] = [
      ['mlp-classify', '{not json', {}],
      ['mlp-classify', { features: [1, 2] }, {}],
      ['no-such-function', {}, {}],
      ['mlp-classify', features(), { 'x-slo-ms': 'soon' }],
    ];
    for (const [name, body, headers] of cases) {
      const direct = await call(origins[0], name, body, { headers });
      const via = await call(edge.url, name, body, { headers });
      assert.equal(via.status, direct.status, `${name} ${JSON.stringify(headers)}`);
      assert.deepEqual(via.body, direct.body);
      assert.ok(via.status >= 400 && via.status < 500);
    }
  });

  test('a body over the Worker limit is refused at the edge with 413', async () => {
    const r = await call(edge.url, 'mlp-classify', { features: [], pad: 'x'.repeat(600 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'payload_too_large');
    assert.equal(r.headers.get('x-edge-origin'), null);
  });

  test('a call whose budget is spent at the edge gets 503 with Retry-After and reaches no runtime', async () => {
    const before = await Promise.all(origins.map((o) => callsSeen(o, 'mlp-scores')));
    const r = await call(edge.url, 'mlp-scores', features(), { headers: { 'x-slo-ms': '1' } });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.equal(r.headers.get('x-edge-attempts'), '0');
    assert.equal(r.headers.get('x-edge-origin'), null);
    assert.deepEqual(await Promise.all(origins.map((o) => callsSeen(o, 'mlp-scores'))), before);
  });

  test('affinity: each model lands on its preferred runtime, and batches beat round-robin at the same rate', async () => {
    {
      // One function per model, with relaxed SLOs (200 and 250 ms), so that a shared, noisy CPU rarely sheds.
      const load = (base: string) =>
        Promise.all([
          openLoop(base, 'mlp-scores', features, 90, 3000, 1),
          openLoop(base, 'needs-rotation', () => examples['needs-rotation'], 15, 3000, 3),
        ]);
      await load(edge.url); // warm: catalog, load reports, fits
      const preferredOf = { mlp: rendezvousOrder('mlp', origins)[0], 'ocr-cls': rendezvousOrder('ocr-cls', origins)[0] };
      // What moves a call off its home: a shed there (the function backs off for Retry-After), or the home
      // marked down after connection failures or timeouts (a loaded machine can make it miss a deadline).
      const leaves = async () => {
        const st = (await (await fetch(`${edge.url}/edge/status`)).json()) as {
          origins: { url: string; downs: number; backOffs: number }[];
        };
        const of = (url: string) => st.origins.find((o) => o.url === url)!;
        return {
          mlp: (await shedAt(preferredOf.mlp, 'mlp-scores')) + of(preferredOf.mlp).downs + of(preferredOf.mlp).backOffs,
          'ocr-cls':
            (await shedAt(preferredOf['ocr-cls'], 'needs-rotation')) +
            of(preferredOf['ocr-cls']).downs +
            of(preferredOf['ocr-cls']).backOffs,
        };
      };
      const leavesBefore = await leaves();
      const [scores, rotation] = await load(edge.url);
      const leavesAfter = await leaves();
      const shedDuring = { mlp: leavesAfter.mlp - leavesBefore.mlp, 'ocr-cls': leavesAfter['ocr-cls'] - leavesBefore['ocr-cls'] };
      console.log(`# edge status after the load: ${JSON.stringify((await status(edge)).origins)}`);
      const [rrScores] = await load(rr.url);
      const preferred = preferredOf;
      for (const [model, sent] of [
        ['mlp', scores],
        ['ocr-cls', rotation],
      ] as const) {
        const tally = new Map<string, number>();
        for (const s of sent) {
          const key = `${s.status} attempts=${s.headers.get('x-edge-attempts')} ${s.headers.get('x-edge-origin') === preferred[model] ? 'preferred' : 'other'}`;
          tally.set(key, (tally.get(key) ?? 0) + 1);
        }
        console.log(`# ${model}: ${JSON.stringify(Object.fromEntries(tally))}`);
        // A call leaves its model's runtime only when that runtime sheds one of the function's calls (the
        // function then backs off there for Retry-After), is marked down, or reports itself loaded (spill,
        // off here). So on a home with none of these, every call is served at home; one that shed or was
        // marked down (a loaded machine makes its loop lag past the door's limit, or miss a deadline) still
        // serves more than any other runtime.
        const home = sent.filter((s) => s.status === 200 && s.headers.get('x-edge-origin') === preferred[model]);
        const figures = `${model}: ${home.length} of ${sent.length} served by its preferred runtime, which shed or was marked down ${shedDuring[model]} times`;
        if (shedDuring[model] === 0) assert.equal(home.length, sent.length, figures);
        else {
          const elsewhere = origins
            .filter((o) => o !== preferred[model])
            .map((o) => sent.filter((s) => s.headers.get('x-edge-origin') === o).length);
          assert.ok(home.length > Math.max(...elsewhere), `${figures}; elsewhere ${elsewhere.join(', ')}`);
        }
      }
      const affine = meanBatch(scores);
      const spread = meanBatch(rrScores);
      console.log(`# mlp mean batch at 90 calls/s: rendezvous ${affine.toFixed(2)}, round-robin ${spread.toFixed(2)}`);
      assert.ok(affine > spread, `rendezvous ${affine} vs round-robin ${spread}`);
      const rrOrigins = new Set(rrScores.filter((s) => s.status === 200).map((s) => s.headers.get('x-edge-origin')));
      assert.equal(rrOrigins.size, 3, 'round-robin used every runtime');
    }
  });

  test('failover: SIGKILL the preferred runtime under load; every call is answered, it is marked down and taken back', async () => {
    const victim = rendezvousOrder('mlp', origins)[0];
    const index = origins.indexOf(victim);
    const loadDone = openLoop(edge.url, 'mlp-scores', features, 80, 4000, 7);
    await new Promise((r) => setTimeout(r, 1500));
    runtimes[index].proc.kill('SIGKILL');
    await runtimes[index].exited;
    const sent = await loadDone;
    // Nothing lost: every call has an answer, a 200 or a 503 that says when to come back.
    const ok = sent.filter((s) => s.status === 200);
    const shed = sent.filter((s) => s.status === 503);
    assert.equal(ok.length + shed.length, sent.length, `statuses ${[...new Set(sent.map((s) => s.status))]}`);
    for (const s of shed) assert.ok(Number(s.retryAfter) >= 1);
    const survivors = ok.filter((s) => s.scheduledMs > 2000);
    assert.ok(survivors.length > 0);
    for (const s of survivors) assert.notEqual(s.headers.get('x-edge-origin'), victim);
    const failedOver = sent.filter((s) => Number(s.headers.get('x-edge-attempts')) > 1 && s.status === 200).length;
    console.log(`# failover: ${sent.length} calls, ${ok.length} 200, ${shed.length} 503, ${failedOver} served after a failover`);
    assert.ok((await status(edge)).origins.find((o) => o.url === victim)!.down, 'the dead runtime is marked down');

    // Restarted on the same port, it is probed back, and the model's calls return to it.
    runtimes[index] = await startCli(['start'], { PORT: String(portOf(victim)) });
    assert.ok(
      await eventually(async () => {
        const r = await call(edge.url, 'mlp-scores', features());
        return r.status === 200 && r.headers.get('x-edge-origin') === victim;
      }),
      'calls of mlp return to the restarted runtime',
    );
    assert.equal((await status(edge)).origins.find((o) => o.url === victim)!.down, false);
  });
});

describe('deadlines across the hop', () => {
  let hole: Server;
  const sockets: Socket[] = [];
  let edge: RunningEdge;
  before(async () => {
    // An origin that accepts connections and never answers, ranked first for mlp: a port's rank is a coin
    // toss against each live origin, so listen again on other ports until one outranks some live origin.
    for (let tries = 0; ; tries++) {
      hole = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
      const holeUrl = `http://127.0.0.1:${(hole.address() as { port: number }).port}`;
      const live = origins.find((o) => rendezvousOrder('mlp', [holeUrl, o])[0] === holeUrl);
      if (live) {
        edge = await startEdge({ ORIGINS: `${holeUrl},${live}`, UPSTREAM_GRACE_MS: '0' });
        break;
      }
      await new Promise((r) => hole.close(r));
      assert.ok(tries < 40, 'no port ranked first for mlp in 40 tries');
    }
  });
  after(async () => {
    await edge.stop();
    for (const s of sockets) s.destroy();
    hole.close();
  });

  test('a call whose budget runs out at a silent origin gets 503 and is not retried past its deadline', async () => {
    const holeFirst = rendezvousOrder(
      'mlp',
      (await status(edge)).origins.map((o) => o.url),
    )[0];
    assert.ok(holeFirst.endsWith(`:${(hole.address() as { port: number }).port}`), 'the silent origin is the home of mlp');
    const r = await call(edge.url, 'mlp-scores', features(), { headers: { 'x-slo-ms': '300' } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('x-edge-attempts'), '1');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });
});
