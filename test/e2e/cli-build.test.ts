/**
 * The ahead-of-time build (`npm run build`, run by `npm ci` through `prepare`): dist/ exists and is current,
 * `edgebatch` runs from it, the client commands load no tsx and no TypeScript, `start` still loads the
 * user's TypeScript (hono.config.ts, a handler importing `edgebatch`), and that handler gets the very
 * classes the built runtime uses.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startCli, writeProject, type Running } from '../helpers/cli.ts';
import { call } from '../helpers/serve.ts';

const root = new URL('../../', import.meta.url);
const dist = new URL('dist/', root);
const recorder = new URL('../helpers/record-imports.mjs', import.meta.url).pathname;

mkdirSync('test/tmp', { recursive: true });
const dir = path.resolve(mkdtempSync(path.join('test/tmp', 'build-')));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The newest modification time of a file under runtime/, what bin.mjs compares dist/BUILT with. */
function newestSourceMs(): number {
  const runtimeDir = new URL('runtime/', root).pathname;
  let newest = 0;
  for (const entry of readdirSync(runtimeDir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

test('dist/ holds the built CLI, runtime and workers, newer than every source file, and the CLI runs it', async () => {
  for (const file of ['BUILT', 'cli.js', 'index.js', 'lane-worker.js', 'probe-worker.js']) {
    assert.ok(existsSync(new URL(file, dist)), `dist/${file} is missing: npm ci (prepare) or npm run build makes it`);
  }
  const builtAt = statSync(new URL('BUILT', dist)).mtimeMs;
  assert.ok(builtAt >= newestSourceMs(), 'a file under runtime/ is newer than dist/: run npm run build');
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string; exports: { '.': { default: string } } };
  assert.equal(pkg.exports['.'].default, './dist/index.js', 'handlers importing `edgebatch` get the build');
  const version = await runCli(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `edgebatch ${pkg.version} (built: dist/)\n`);
});

describe('the built CLI against a runtime it started', () => {
  let srv: Running;
  before(async () => {
    // A handler that throws one of edgebatch's own error classes: the runtime answers it as that class (504
    // hook_timeout) only if the handler's `edgebatch` and the runtime's are one module instance; a second
    // copy of the class would make it a plain error, answered 400 like any other throw from `pre`.
    const sameClasses = `import { z } from 'zod';
import { defineFunction, HookTimeoutError } from 'edgebatch';
export default defineFunction({
  model: 'mlp',
  slo: '2s',
  input: z.object({ x: z.number() }),
  pre: ({ x }) => {
    if (x < 0) throw new HookTimeoutError('same-classes', 'pre', 1);
    return { data: new Float32Array(128).fill(x), dims: [128] };
  },
  post: ({ output }) => ({ n: output.data.length }),
  example: { x: 1 },
});
`;
    const fields = `scheduler: { admission: false },\n  models: { mlp: { file: ${JSON.stringify(path.resolve('models/mlp-small.onnx'))} } },`;
    const config = writeProject(dir, fields, { 'same-classes': sameClasses });
    srv = await startCli(['start', '--config', config]);
  });
  after(async () => {
    srv.proc.kill('SIGTERM');
    await srv.exited;
  });

  test("start loads the TypeScript config and handler; a class thrown by the handler is the runtime's", async () => {
    const ok = await call(srv.url, 'same-classes', { x: 2 });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body, { n: 10 });
    const thrown = await call(srv.url, 'same-classes', { x: -1 });
    assert.equal(thrown.status, 504, JSON.stringify(thrown.body));
    assert.equal((thrown.body as { error: { code: string } }).error.code, 'hook_timeout');
  });

  test('list answers from the build, loading neither tsx nor any TypeScript file', async () => {
    const record = path.join(dir, 'imports.txt');
    const r = await runCli(['list', '--url', srv.url, '--json'], { RECORD_IMPORTS: record }, ['--import', recorder]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (JSON.parse(r.stdout) as { functions: { name: string }[] }).functions.map((f) => f.name),
      ['same-classes'],
    );
    const loaded = readFileSync(record, 'utf8').trim().split('\n');
    assert.ok(
      loaded.some((u) => u.endsWith('/dist/cli.js')),
      'the built CLI ran',
    );
    assert.deepEqual(
      loaded.filter((u) => u.includes('/node_modules/tsx/') || /\.ts($|\?)/.test(u)),
      [],
      'no tsx, no TypeScript',
    );
  });
});
