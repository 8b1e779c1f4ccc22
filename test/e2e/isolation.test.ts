/**
 * Handler code that would take the runtime down if it ran in the runtime's thread: each file is checked in
 * a worker thread with a time and heap limit before the runtime imports it (runtime/functions/probe/), so
 * the deploy is refused with the reason, and every other function keeps answering meanwhile.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { deployTarget } from '../helpers/deploy-target.ts';
import { call, startRuntime } from '../helpers/serve.ts';

const token = 'test-admin-token-isolation';
const { dir, overrides } = deployTarget('isolation', token, { limits: { checkTimeout: '4s', checkHeapMb: 64 } });

/** A handler on the tiny MLP; `top` runs at import, `pre` replaces its pre. */
const handler = ({ top = '', pre = '({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] })' } = {}) => `
import { z } from 'zod';
import { defineFunction } from 'edgebatch';
${top}
export default defineFunction({
  model: 'tiny',
  slo: '200ms',
  input: z.object({ x: z.number() }),
  pre: ${pre},
  post: ({ output }) => ({ ok: true, logits: output.data.length }),
  example: { x: 0.5 },
});
`;

let s: Serving;
const deploy = (name: string, source: string) =>
  fetch(`${s.url}/admin/functions/${name}`, { method: 'PUT', body: source, headers: { authorization: `Bearer ${token}` } });

before(async () => {
  s = await startRuntime(overrides);
  assert.equal((await deploy('steady', handler())).status, 201, 'the function that must keep answering');
});
after(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a deploy that would take the runtime down is refused, and the rest keeps serving', () => {
  const cases: [string, Parameters<typeof handler>[0], RegExp][] = [
    [
      'process.exit(1) at top level',
      { top: 'process.exit(1);' },
      /ended its thread \(exit code 1, `process.exit`\?\) while being imported/,
    ],
    ['an endless loop at import', { top: 'while (true) {}' }, /did not finish being imported within 4000 ms/],
    [
      'a heap that grows without end at import',
      { top: 'const hoard: number[][] = []; while (true) hoard.push(new Array(1e5).fill(1));' },
      /failed while being imported: .*memory/i,
    ],
    ['a pre that never settles', { pre: '() => new Promise(() => {})' }, /did not finish running its example through `pre` within 4000 ms/],
    ['a pre that loops', { pre: '() => { while (true) {} }' }, /did not finish running its example through `pre` within 4000 ms/],
  ];
  for (const [what, parts, reason] of cases) {
    test(`${what}: 422 with the reason; other calls answered meanwhile`, async () => {
      const before = (await (
        await fetch(`${s.url}/admin/functions/steady/versions`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as any;
      let settled = false;
      const pending = deploy('steady', handler(parts)).finally(() => (settled = true));
      // While the check runs, the runtime's own thread is free: health and calls answer.
      const health = await fetch(`${s.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual((await call(s.url, 'steady', { x: 1 })).body, { ok: true, logits: 10 });
      // A check that runs into its 4 s limit is still running now, so these answers came during it (an
      // exit or an out-of-memory may end the check sooner, so only the time-limited cases can say so).
      if (/within 4000 ms/.test(reason.source)) assert.equal(settled, false, 'answered while the check was still running');
      const r = await pending;
      assert.equal(r.status, 422);
      const body = (await r.json()) as any;
      assert.match(body.error.message, reason);
      assert.deepEqual((await call(s.url, 'steady', { x: 2 })).body, { ok: true, logits: 10 }, 'the old version still answers');
      const after = (await (
        await fetch(`${s.url}/admin/functions/steady/versions`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as any;
      assert.deepEqual(after, before, 'nothing of the refused upload is kept');
    });
  }
});
