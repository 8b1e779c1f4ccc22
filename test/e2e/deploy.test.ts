/**
 * Deploying handler files to a running runtime over the admin API (and through the CLI): versions,
 * rollback, restarts, refused uploads, tokens and names.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Serving } from 'edgebatch';
import { runCli } from '../helpers/cli.ts';
import { deployTarget } from '../helpers/deploy-target.ts';
import { call, startRuntime } from '../helpers/serve.ts';

const token = 'test-admin-token-0123456789';
const { dir, overrides } = deployTarget('deploy', token);

/** A self-contained handler on the tiny MLP whose answer names its version. */
const handler = (version: number, extra = '') => `
import { z } from 'zod';
import { defineFunction } from 'edgebatch';
export default defineFunction({
  model: 'tiny',
  slo: '200ms',
  input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ version: ${version}, logits: output.data.length }),
  example: { x: 0.5 },
  ${extra}
});
`;

let s: Serving;
const admin = (method: string, p: string, body?: string, auth: string | null = token) =>
  fetch(`${s.url}/admin${p}`, { method, body, headers: auth === null ? {} : { authorization: `Bearer ${auth}` } });

before(async () => {
  s = await startRuntime(overrides);
});
after(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('deploy, change, roll back, restart', () => {
  test('a deployed function answers; a new version changes the answer; rollback restores it', async () => {
    const v1 = await admin('PUT', '/functions/greet', handler(1));
    assert.equal(v1.status, 201, await v1.clone().text());
    const d1 = (await v1.json()) as any;
    assert.equal(d1.previous, null);
    assert.deepEqual((await call(s.url, 'greet', { x: 1 })).body, { version: 1, logits: 10 });

    const v2 = (await (await admin('PUT', '/functions/greet', handler(2))).json()) as any;
    assert.equal(v2.previous, d1.version);
    const r2 = await call(s.url, 'greet', { x: 1 });
    assert.equal(r2.body.version, 2);
    assert.equal(r2.headers.get('x-function-version'), v2.version);

    const rb = await admin('POST', '/functions/greet/rollback');
    assert.equal(rb.status, 200);
    assert.equal(((await rb.json()) as any).version, d1.version);
    assert.equal((await call(s.url, 'greet', { x: 1 })).body.version, 1);

    const versions = (await (await admin('GET', '/functions/greet/versions')).json()) as any;
    assert.equal(versions.current, d1.version);
    assert.deepEqual(
      versions.versions.map((v: any) => v.version),
      [d1.version, v2.version],
    );
  });

  test('the CLI deploys and rolls back the same way', async () => {
    const file = path.join(dir, 'greet.ts');
    writeFileSync(file, handler(3));
    const env = { EDGEBATCH_ADMIN_TOKEN: token };
    const dep = await runCli(['deploy', file, '--url', s.url, '--json'], env);
    assert.equal(dep.code, 0, dep.stderr);
    assert.match(JSON.parse(dep.stdout).version, /^[0-9a-f]{12}$/);
    assert.equal((await call(s.url, 'greet', { x: 1 })).body.version, 3);
    const rb = await runCli(['rollback', 'greet', '--url', s.url], env);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /greet now serves version/);
    assert.equal((await call(s.url, 'greet', { x: 1 })).body.version, 1, 'back to the version before 3');
    const inv = await runCli(['invoke', 'greet', '--data', '{"x": 2}', '--url', s.url, '--json']);
    assert.equal(inv.code, 0, inv.stderr);
    assert.equal(JSON.parse(inv.stdout).result.version, 1);
    const list = await runCli(['list', '--url', s.url]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^function\s+model\s+slo ms/m);
    assert.match(list.stdout, /greet\s+tiny\s+200/);
    const noToken = await runCli(['deploy', file, '--url', s.url], { EDGEBATCH_ADMIN_TOKEN: '' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /401: EDGEBATCH_ADMIN_TOKEN is not set/);
    const wrongToken = await runCli(['deploy', file, '--url', s.url], { EDGEBATCH_ADMIN_TOKEN: 'not-the-token' });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /401: .* refused the token in EDGEBATCH_ADMIN_TOKEN/);
  });

  test('a restarted runtime serves the deployed version', async () => {
    const before = (await call(s.url, 'greet', { x: 1 })).body;
    await s.stop();
    s = await startRuntime(overrides);
    assert.deepEqual((await call(s.url, 'greet', { x: 1 })).body, before);
    const versions = (await (await admin('GET', '/functions/greet/versions')).json()) as any;
    assert.equal(versions.versions.length, 3);
  });
});

describe('deploys at the same time', () => {
  test('of one name: taken in turn, and what serves is what the manifest records, before and after a restart', async () => {
    const results = await Promise.all([11, 12, 13, 14].map((v) => admin('PUT', '/functions/racer', handler(v))));
    const deployed = await Promise.all(results.map(async (r) => ({ status: r.status, ...((await r.json()) as any) })));
    assert.deepEqual(
      deployed.map((d) => d.status),
      [201, 201, 201, 201],
    );
    // In turn: each deploy saw the one before it as its previous version, so the four form one chain.
    const chain = deployed.filter((d) => d.previous === null);
    assert.equal(chain.length, 1, 'exactly one deploy found nothing before it');
    for (let d = chain[0]; ;) {
      const next = deployed.find((n) => n.previous === d.version);
      if (!next) break;
      chain.push((d = next));
    }
    assert.equal(chain.length, 4, 'every deploy followed exactly one other');
    const last = chain[3].version;
    const served = await call(s.url, 'racer', { x: 1 });
    assert.equal(served.headers.get('x-function-version'), last);
    assert.equal(((await (await admin('GET', '/functions/racer/versions')).json()) as any).current, last);
    await s.stop();
    s = await startRuntime(overrides);
    assert.equal((await call(s.url, 'racer', { x: 1 })).headers.get('x-function-version'), last);
  });

  test('of different names: every one recorded, none lost from the manifest', async () => {
    const names = ['para-a', 'para-b', 'para-c', 'para-d', 'para-e'];
    const results = await Promise.all(names.map((n, i) => admin('PUT', `/functions/${n}`, handler(20 + i))));
    assert.deepEqual(
      results.map((r) => r.status),
      names.map(() => 201),
    );
    await s.stop();
    s = await startRuntime(overrides);
    for (const [i, n] of names.entries()) assert.equal((await call(s.url, n, { x: 1 })).body.version, 20 + i, `${n} after a restart`);
    for (const n of names) assert.equal((await admin('DELETE', `/functions/${n}`)).status, 204);
  });
});

describe('bundled deploys', () => {
  // A handler with a local helper, laid out as functions/ is: the helper under _shared/.
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, '_shared'), { recursive: true });
  writeFileSync(path.join(src, '_shared', 'fill.ts'), 'export const fill = (x: number): Float32Array => new Float32Array(128).fill(x);\n');
  const withHelper = handler(5)
    .replace(
      "import { defineFunction } from 'edgebatch';",
      "import { defineFunction } from 'edgebatch';\nimport { fill } from './_shared/fill.ts';",
    )
    .replace('new Float32Array(128).fill(x)', 'fill(x)');
  writeFileSync(path.join(src, 'helped.ts'), withHelper);

  test('edgebatch deploy bundles relative imports into one module, which the runtime stores and serves', async () => {
    const dep = await runCli(['deploy', path.join(src, 'helped.ts'), '--url', s.url, '--json'], { EDGEBATCH_ADMIN_TOKEN: token });
    assert.equal(dep.code, 0, dep.stderr);
    const { version } = JSON.parse(dep.stdout);
    assert.deepEqual((await call(s.url, 'helped', { x: 1 })).body, { version: 5, logits: 10 });
    assert.deepEqual(readdirSync(path.join(dir, 'data', 'functions', 'helped')), [`${version}.mjs`]);
    const listed = (await (await fetch(`${s.url}/functions`)).json()) as any;
    assert.equal(listed.functions.find((f: any) => f.name === 'helped').origin, 'deploy');
  });

  test("what the CLI uploads imports edgebatch, not a copy of it: the handler's own errors are the runtime's", async () => {
    // This repository's tsconfig maps `edgebatch` to its sources; inlined, a handler's HookTimeoutError would
    // be another class than the runtime's, and answered as a failed pre (400) instead of 504.
    const file = path.join(src, 'strict.ts');
    writeFileSync(
      file,
      handler(6)
        .replace("import { defineFunction } from 'edgebatch';", "import { HookTimeoutError, defineFunction } from 'edgebatch';")
        .replace('pre: ({ x }) => (', "pre: ({ x }) => { if (x >= 100) throw new HookTimeoutError('strict', 'pre', 1); return ")
        .replace('dims: [128] }),', 'dims: [128] }; },'),
    );
    const dep = await runCli(['deploy', file, '--url', s.url, '--json'], { EDGEBATCH_ADMIN_TOKEN: token });
    assert.equal(dep.code, 0, dep.stderr);
    const { version } = JSON.parse(dep.stdout);
    const stored = readFileSync(path.join(dir, 'data', 'functions', 'strict', `${version}.mjs`), 'utf8');
    assert.doesNotMatch(stored, /class HookTimeoutError/, 'the runtime is not inlined');
    assert.equal((await call(s.url, 'strict', { x: 1 })).body.version, 6);
    const refused = await call(s.url, 'strict', { x: 100 });
    assert.equal(refused.status, 504, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'hook_timeout');
  });

  test('an upload with an unbundled relative import: 422 naming the import and the way to deploy it, nothing left on disk', async () => {
    const r = await admin('PUT', '/functions/unbundled', withHelper);
    assert.equal(r.status, 422);
    const { message } = ((await r.json()) as any).error;
    assert.match(message, /Could not resolve "\.\/_shared\/fill\.ts"/);
    assert.match(message, /unbundled\.ts:4:/);
    assert.match(message, /edgebatch deploy/);
    assert.doesNotMatch(message, /\.edgebatch|data\/functions/, 'no internal path');
    assert.equal(existsSync(path.join(dir, 'data', 'functions', 'unbundled')), false);
  });

  test('a refused deploy of a name with versions leaves only its served versions on disk', async () => {
    const before = readdirSync(path.join(dir, 'data', 'functions', 'helped')).sort();
    const r = await admin('PUT', '/functions/helped', handler(9).replace("slo: '200ms'", "slo: 'whenever'"));
    assert.equal(r.status, 422);
    assert.deepEqual(readdirSync(path.join(dir, 'data', 'functions', 'helped')).sort(), before);
  });
});

describe('refused uploads keep the old version serving', () => {
  const cases: [string, string, RegExp][] = [
    // The compiler's message: the file the user knows (not a path under .edgebatch/), line:column, the line.
    [
      'syntax error',
      'export default { model: "tiny", slo: "1s",, }',
      /Expected identifier but found ","\s+greet\.ts:1:42:\s+1 │ export default \{ model: "tiny", slo: "1s",, \}/,
    ],
    ['unknown model', handler(9).replace("model: 'tiny'", "model: 'gpt-17'"), /model "gpt-17" is not in hono.config.ts/],
    ['bad SLO', handler(9).replace("slo: '200ms'", "slo: 'whenever'"), /slo.*"whenever"/],
    ['SLO no device could meet', handler(9).replace("slo: '200ms'", 'slo: 0.001'), /cannot be met|below|zero load/i],
    [
      'example that does not fit the model',
      handler(9).replace('new Float32Array(128)', 'new Float32Array(7)').replace('dims: [128]', 'dims: [7]'),
      /example does not make a valid item.*shape/,
    ],
  ];
  for (const [what, source, reason] of cases) {
    test(`${what}: 422 with the reason`, async () => {
      const current = (await call(s.url, 'greet', { x: 1 })).body;
      const r = await admin('PUT', '/functions/greet', source);
      assert.equal(r.status, 422);
      const body = (await r.json()) as any;
      assert.match(body.error.message, reason);
      assert.deepEqual((await call(s.url, 'greet', { x: 1 })).body, current, 'the old version still answers');
    });
  }

  test('a deploy whose record cannot be written (a full disk) fails and leaves the old version serving', async () => {
    const current = (await call(s.url, 'greet', { x: 1 })).body;
    const versions = (await (await admin('GET', '/functions/greet/versions')).json()) as any;
    // A directory where the manifest's temporary file goes makes the write fail as a full disk would.
    const blocker = path.join(dir, 'data', `deployments.json.${process.pid}.tmp`);
    mkdirSync(blocker);
    try {
      const r = await admin('PUT', '/functions/greet', handler(8));
      assert.equal(r.status, 500);
      assert.deepEqual((await call(s.url, 'greet', { x: 1 })).body, current, 'traffic did not switch');
    } finally {
      rmSync(blocker, { recursive: true });
    }
    assert.deepEqual((await (await admin('GET', '/functions/greet/versions')).json()) as any, versions, 'nothing recorded');
  });

  test('an upload over limits.uploadBytes is 413', async () => {
    const r = await admin('PUT', '/functions/greet', `// ${'x'.repeat(300 * 1024)}\n${handler(9)}`);
    assert.equal(r.status, 413);
  });
});

describe('a data folder outside the project', () => {
  // No package.json and no node_modules above it: the stored module must still load, and its packages
  // (zod, edgebatch) must be the runtime's own.
  const outside = mkdtempSync(path.join(os.tmpdir(), 'edgebatch-data-'));
  const elsewhere = { ...overrides, dataDir: outside };
  const typed = handler(6).replace('({ x }) =>', '({ x }: { x: number }) =>').replace('fill(x)', 'fill(x as number)');
  after(() => rmSync(outside, { recursive: true, force: true }));

  test('a TypeScript upload serves, and serves again after a restart', async () => {
    let rt = await startRuntime(elsewhere);
    try {
      const put = await fetch(`${rt.url}/admin/functions/typed`, {
        method: 'PUT',
        body: typed,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(put.status, 201, await put.clone().text());
      const { version } = (await put.json()) as any;
      assert.deepEqual(readdirSync(path.join(outside, 'functions', 'typed')), [`${version}.mjs`]);
      assert.deepEqual((await call(rt.url, 'typed', { x: 1 })).body, { version: 6, logits: 10 });
      await rt.stop();
      rt = await startRuntime(elsewhere);
      const again = await call(rt.url, 'typed', { x: 1 });
      assert.deepEqual(again.body, { version: 6, logits: 10 });
      assert.equal(again.headers.get('x-function-version'), version);
    } finally {
      await rt.stop();
    }
  });

  test('an upload importing a package the runtime does not have: 422 naming it', async () => {
    const rt = await startRuntime(elsewhere);
    try {
      const put = await fetch(`${rt.url}/admin/functions/lost`, {
        method: 'PUT',
        body: `import 'no-such-package-here';\n${handler(1)}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(put.status, 422);
      assert.match(((await put.json()) as any).error.message, /package "no-such-package-here" is not installed where the runtime runs/);
      assert.equal(existsSync(path.join(outside, 'functions', 'lost')), false);
    } finally {
      await rt.stop();
    }
  });
});

describe('the CLI as a client', () => {
  test('a function name is sent as one path segment: delete "greet/../x" reaches no other function', async () => {
    const before = await call(s.url, 'greet', { x: 1 });
    assert.equal(before.status, 200);
    for (const name of ['greet/../racer', 'racer?x=1', 'greet#x']) {
      const r = await runCli(['delete', name, '--url', s.url], { EDGEBATCH_ADMIN_TOKEN: token });
      assert.notEqual(r.code, 0, `${name}: ${r.stdout}`);
    }
    assert.deepEqual((await call(s.url, 'greet', { x: 1 })).body, before.body, 'greet still served');
    assert.equal((await call(s.url, 'racer', { x: 1 })).status, 200, 'racer still served');
  });

  test('it reaches a runtime on a port that fetch refuses (the WHATWG bad ports)', async () => {
    const { loadConfig, serve } = await import('edgebatch');
    let other: Serving | undefined;
    for (const port of [10080, 6000, 6665, 5060, 2049]) {
      const env = { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'silent' };
      try {
        other = await serve(await loadConfig('hono.config.ts', { ...overrides, dataDir: path.join(dir, 'data-port') }, env));
        break;
      } catch {
        // taken here: the next one
      }
    }
    assert.ok(other, 'none of the bad ports was free');
    try {
      const r = await runCli(['list', '--url', other.url, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(Array.isArray(JSON.parse(r.stdout).functions));
    } finally {
      await other.stop();
    }
  });
});

describe('admin access', () => {
  test('without a token or with a wrong one: 401, and nothing changes', async () => {
    const none = await admin('PUT', '/functions/greet', handler(7), null);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.code, 'unauthorized');
    const wrong = await admin('PUT', '/functions/greet', handler(7), 'not-the-token');
    assert.equal(wrong.status, 401);
    assert.equal((await admin('GET', '/functions/greet/versions', undefined, 'nope')).status, 401);
    assert.notEqual((await call(s.url, 'greet', { x: 1 })).body.version, 7);
  });

  test('names that are not plain function names are refused', async () => {
    for (const name of ['..%2Fx', '.hidden', 'a%2Fb', '..%5Cx', 'x%00']) {
      const r = await admin('PUT', `/functions/${name}`, handler(1));
      assert.equal(r.status, 422, name);
      assert.match(((await r.json()) as any).error.message, /must match/);
    }
    const upper = await admin('PUT', '/functions/Top_3', handler(1));
    assert.equal(upper.status, 422, 'names are lower case only');
    assert.match(((await upper.json()) as any).error.message, /"Top_3" must match/);
    // A bare ".." segment is resolved away by URL parsing before routing: no such route.
    assert.equal((await admin('PUT', '/functions/%2E%2E', handler(1))).status, 404);
  });

  test('with no token configured the admin API does not exist', async () => {
    const open = await startRuntime({ ...overrides, admin: {}, dataDir: path.join(dir, 'data2') });
    try {
      const r = await fetch(`${open.url}/admin/functions/greet`, { method: 'PUT', body: handler(1) });
      assert.equal(r.status, 404);
      assert.equal(((await r.json()) as any).error.code, 'admin_off');
      const v = await runCli(['versions', 'greet', '--url', open.url], { EDGEBATCH_ADMIN_TOKEN: token });
      assert.equal(v.code, 1);
      assert.match(v.stderr, /the admin API is off on this runtime \(no token configured/);
    } finally {
      await open.stop();
    }
  });
});
