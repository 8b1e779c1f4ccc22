/**
 * Time limits on handlers' `pre` and `post` (runtime/functions/hook-limits.ts), and the hard shutdown
 * deadline (`shutdownGrace`): a call whose handler never finishes is answered, the runtime keeps serving
 * the rest, and SIGTERM ends the process by its deadline even with such a call in flight.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { startCli } from '../helpers/cli.ts';
import { call, startRuntime } from '../helpers/serve.ts';

mkdirSync('test/tmp', { recursive: true });
const dir = path.resolve(mkdtempSync(path.join('test/tmp', 'hooks-')));
mkdirSync(path.join(dir, 'functions'));
const tiny = path.resolve('models/mlp-small.onnx');

/**
 * A handler on the tiny MLP whose `pre` never settles for x = 13 and whose `post` never settles for x = 7
 * (its example, x = 0.5, finishes, so it passes the checks).
 */
const hanging = (hookTimeout: string) => `
import { z } from 'zod';
import { defineFunction } from 'edgebatch';
const never = new Promise<never>(() => {});
export default defineFunction({
  model: 'tiny',
  slo: '100ms',
  hookTimeout: '${hookTimeout}',
  input: z.object({ x: z.number() }),
  pre: async ({ x }) => (x === 13 ? never : { data: new Float32Array(128).fill(x), dims: [128] }),
  post: async ({ output }, { x }) => (x === 7 ? never : { x, logits: output.data.length }),
  example: { x: 0.5 },
});
`;
writeFileSync(path.join(dir, 'functions', 'hangs.ts'), hanging('300ms'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('pre and post time limits', () => {
  let s: Serving;
  before(async () => {
    // Admission off: a loaded test machine must not shed the calls whose answers are checked.
    s = await startRuntime({
      functionsDir: path.join(dir, 'functions'),
      dataDir: path.join(dir, 'data'),
      models: { tiny: { file: tiny, maxBatch: 16 } },
      scheduler: { admission: false },
    });
  });
  after(() => s.stop());

  test('a pre or post that never settles is answered 504 by its limit; its neighbours get 200', async () => {
    const t0 = performance.now();
    const xs = Array.from({ length: 60 }, (_, i) => [13, 7, 1][i % 3]);
    const replies = await Promise.all(xs.map((x) => call(s.url, 'hangs', { x })));
    assert.ok(performance.now() - t0 < 20_000, 'answered before 20 s');
    for (const [i, r] of replies.entries()) {
      if (xs[i] === 1) {
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { x: 1, logits: 10 });
        continue;
      }
      const hook = xs[i] === 13 ? 'pre' : 'post';
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'hook_timeout');
      assert.equal(r.body.error.message, `"hangs" ${hook}() did not finish within its time limit of 300 ms`);
    }
    assert.equal(s.runtime.hookLimits.size, 0, 'nothing is left waiting');
    assert.equal((await call(s.url, 'hangs', { x: 2 })).status, 200, 'still serving');
  });

  test('the default limit is 10 x the SLO, at least 1 s; a bad hookTimeout refuses the file', async () => {
    const fn = s.runtime.functions.get('hangs')!;
    assert.equal(fn.hookTimeoutMs, 300);
    const file = path.join(dir, 'default-limit.ts');
    writeFileSync(file, hanging('300ms').replace("  hookTimeout: '300ms',\n", ''));
    const res = await s.runtime.check(file);
    assert.ok(res.ok);
    assert.equal(res.fn.hookTimeoutMs, 1000);
    // 300 ms gives 10 x 300 = 3 s (the factor) and 50 ms gives the 1 s floor: 100 ms alone cannot tell them.
    for (const [slo, want] of [
      ['300ms', 3000],
      ['50ms', 1000],
    ] as const) {
      writeFileSync(
        file,
        hanging('300ms')
          .replace("  hookTimeout: '300ms',\n", '')
          .replace(/slo: '[^']*'/, `slo: '${slo}'`),
      );
      const r = await s.runtime.check(file);
      assert.ok(r.ok && r.fn.hookTimeoutMs === want, `slo ${slo}: ${r.ok ? r.fn.hookTimeoutMs : r.problem.message}`);
    }
    writeFileSync(file, hanging('soon'));
    const bad = await s.runtime.check(file);
    assert.ok(!bad.ok);
    assert.match(bad.problem.message, /`hookTimeout` must be a positive duration .* got "soon"/);
  });
});

describe('shutdownGrace: a hard deadline on SIGTERM', () => {
  test('with a call hung in pre, SIGTERM answers it 503 and the process exits by the grace period', async () => {
    const cfgDir = path.join(dir, 'grace');
    mkdirSync(path.join(cfgDir, 'functions'), { recursive: true });
    // The hook limit is far past the grace period, so only the deadline can end the call.
    writeFileSync(path.join(cfgDir, 'functions', 'hangs.ts'), hanging('120s'));
    writeFileSync(
      path.join(cfgDir, 'hono.config.ts'),
      `import { defineConfig } from 'edgebatch';
export default defineConfig({ shutdownGrace: '2s', models: { tiny: { file: ${JSON.stringify(tiny)}, maxBatch: 16 } } });
`,
    );
    const run = await startCli(['start', '--config', path.join(cfgDir, 'hono.config.ts')]);
    try {
      assert.equal((await call(run.url, 'hangs', { x: 1 })).status, 200);
      const hung = call(run.url, 'hangs', { x: 13 });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      run.proc.kill('SIGTERM');
      const r = await hung;
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'overloaded');
      assert.match(r.body.error.message, /grace period of 2000 ms is over/);
      const code = await run.exited;
      assert.equal(code, 0);
      assert.ok(performance.now() - t0 < 15_000, `exited ${Math.round(performance.now() - t0)} ms after SIGTERM`);
      assert.ok(run.logs.some((l) => l.msg === 'grace period over: calls still running answered 503' && l.answered503 === 1));
    } finally {
      run.proc.kill('SIGKILL');
    }
  });
});
