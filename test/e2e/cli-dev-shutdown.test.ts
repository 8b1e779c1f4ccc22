/**
 * The CLI as users run it, in a child process: `edgebatch dev` reloads a saved handler file, keeps the old
 * version on a broken save; `edgebatch start` stops on SIGTERM after answering everything it accepted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { eventually, runCli, startCli } from '../helpers/cli.ts';
import { call } from '../helpers/serve.ts';

mkdirSync('test/tmp', { recursive: true });
const dir = path.resolve(mkdtempSync(path.join('test/tmp', 'cli-')));
mkdirSync(path.join(dir, 'functions'));
const token = 'dev-admin-token-0123456789';
writeFileSync(
  path.join(dir, 'hono.config.ts'),
  `import { defineConfig } from 'edgebatch';
export default defineConfig({
  functionsDir: 'functions',
  dataDir: 'data',
  admin: { token: ${JSON.stringify(token)} },
  models: { mlp: { file: ${JSON.stringify(path.resolve('models/mlp-large.onnx'))}, maxBatch: 64 } },
});
`,
);
const handlerFile = path.join(dir, 'functions', 'echo.ts');
const handler = (tag: string) => `
import { z } from 'zod';
import { defineFunction } from 'edgebatch';
export default defineFunction({
  model: 'mlp',
  slo: '2s',
  input: z.object({ x: z.number() }),
  pre: ({ x }) => ({ data: new Float32Array(128).fill(x), dims: [128] }),
  post: ({ output }) => ({ tag: ${JSON.stringify(tag)}, n: output.data.length }),
  example: { x: 1 },
});
`;
writeFileSync(handlerFile, handler('first'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('edgebatch dev', () => {
  test('a saved handler file is swapped in; a broken save keeps the previous version serving and says why', async () => {
    const dev = await startCli(['dev', '--config', path.join(dir, 'hono.config.ts')]);
    try {
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'first');
      writeFileSync(handlerFile, handler('second'));
      assert.ok(
        await eventually(async () => (await call(dev.url, 'echo', { x: 1 })).body.tag === 'second'),
        'the next requests run the new code',
      );

      writeFileSync(handlerFile, handler('third').replace("model: 'mlp'", "model: 'missing-model'"));
      assert.ok(await eventually(async () => dev.logs.some((l) => /missing-model/.test(String(l.reason)))), 'the reason is logged');
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'second', 'the previous version keeps serving');
      const listed = (await (await fetch(`${dev.url}/functions`)).json()) as any;
      assert.match(listed.problems[0].message, /model "missing-model" is not in hono.config.ts/);

      writeFileSync(handlerFile, 'export default {{ not typescript');
      assert.ok(await eventually(async () => dev.logs.filter((l) => l.msg?.toString().startsWith('handler file not loaded')).length >= 2));
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'second');

      writeFileSync(handlerFile, handler('fourth'));
      assert.ok(await eventually(async () => (await call(dev.url, 'echo', { x: 1 })).body.tag === 'fourth'));
    } finally {
      dev.proc.kill('SIGTERM');
      assert.equal(await dev.exited, 0);
    }
  });

  test('a save passes the same checks as a deploy: a bad example, a wrong item shape, an SLO the device cannot meet are refused', async () => {
    writeFileSync(handlerFile, handler('good'));
    const dev = await startCli(['dev', '--config', path.join(dir, 'hono.config.ts')]);
    const refusals = () => dev.logs.filter((l) => l.msg?.toString().startsWith('handler file not loaded')).map((l) => String(l.reason));
    try {
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'good');
      // A save before the watcher is ready is not seen (on a loaded machine that takes a while): wait for it.
      assert.ok(
        await eventually(async () => dev.logs.some((l) => l.msg === 'watching for saved handler files')),
        'dev watches the functions folder',
      );
      const saves: [string, RegExp][] = [
        [
          handler('bad-example').replace('example: { x: 1 }', "example: { x: 'one' }"),
          /example does not make a valid item: input does not match the schema.*x/,
        ],
        [
          handler('bad-shape').replace('new Float32Array(128)', 'new Float32Array(7)').replace('dims: [128]', 'dims: [7]'),
          /example does not make a valid item.*shape/,
        ],
        [handler('infeasible').replace("slo: '2s'", 'slo: 0.001'), /SLO cannot be met on this device/],
      ];
      for (const [i, [source, reason]] of saves.entries()) {
        writeFileSync(handlerFile, source);
        assert.ok(await eventually(async () => refusals().length > i), `save ${i} is refused: ${JSON.stringify(dev.logs.slice(-4))}`);
        assert.match(refusals()[i], reason);
        assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'good', 'the previous version keeps serving');
      }
    } finally {
      dev.proc.kill('SIGTERM');
      assert.equal(await dev.exited, 0);
    }
  });

  test('a deployed version takes precedence over a saved file of the same name, after a restart too', async () => {
    writeFileSync(handlerFile, handler('file'));
    const config = path.join(dir, 'hono.config.ts');
    let dev = await startCli(['dev', '--config', config]);
    try {
      const deployedFile = path.join(dir, 'echo.ts');
      writeFileSync(deployedFile, handler('deployed'));
      const dep = await runCli(['deploy', deployedFile, '--url', dev.url], { EDGEBATCH_ADMIN_TOKEN: token });
      assert.equal(dep.code, 0, dep.stderr);
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'deployed');
      dev.proc.kill('SIGTERM');
      assert.equal(await dev.exited, 0);
      dev = await startCli(['dev', '--config', config]);
      const watching = dev;
      assert.ok(await eventually(async () => watching.logs.some((l) => l.msg === 'watching for saved handler files')));
      const listed = (await (await fetch(`${dev.url}/functions`)).json()) as any;
      assert.equal(listed.functions.find((f: any) => f.name === 'echo').origin, 'deploy');
      writeFileSync(handlerFile, handler('saved'));
      assert.ok(
        await eventually(async () => dev.logs.some((l) => /deployed version of this function takes precedence/.test(String(l.msg)))),
        JSON.stringify(dev.logs.slice(-4)),
      );
      assert.equal((await call(dev.url, 'echo', { x: 1 })).body.tag, 'deployed');
      const del = await runCli(['delete', 'echo', '--url', dev.url], { EDGEBATCH_ADMIN_TOKEN: token });
      assert.equal(del.code, 0, del.stderr);
      writeFileSync(handlerFile, handler('saved again'));
      assert.ok(
        await eventually(async () => (await call(dev.url, 'echo', { x: 1 })).body.tag === 'saved again'),
        'once undeployed, the file serves',
      );
      const again = (await (await fetch(`${dev.url}/functions`)).json()) as any;
      assert.equal(again.functions.find((f: any) => f.name === 'echo').origin, 'file');
    } finally {
      dev.proc.kill('SIGTERM');
      assert.equal(await dev.exited, 0);
    }
  });
});

describe('edgebatch start: graceful shutdown', () => {
  test('SIGTERM under load: every request sent before the signal gets a complete answer, then exit 0', async () => {
    writeFileSync(handlerFile, handler('prod'));
    const srv = await startCli(['start', '--config', path.join(dir, 'hono.config.ts')]);
    const url = new URL(srv.url);
    // node:http (not fetch) so that "sent" is known: a request counts once its bytes are flushed to the socket.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const flushed: Promise<void>[] = [];
    const answers = Array.from({ length: 300 }, (_, i) => {
      const body = JSON.stringify({ x: i % 7 });
      return new Promise<{ status: number; body: string } | Error>((resolve) => {
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            path: '/functions/echo',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', (err) => resolve(err));
        flushed.push(new Promise<void>((r) => req.once('finish', () => r())));
        req.end(body);
      });
    });
    // With 64 sockets, 64 requests are on the wire at once; signal once 64 of them have been flushed, and
    // judge only the requests flushed before the signal.
    const sentBefore = new Set<number>();
    await new Promise<void>((resolve) => {
      let n = 0;
      flushed.forEach((p, i) =>
        p.then(() => {
          sentBefore.add(i);
          if (++n === 64) resolve();
        }),
      );
    });
    const signalled = new Set(sentBefore);
    srv.proc.kill('SIGTERM');
    const results = await Promise.all(answers);
    const failed = [...signalled].filter((i) => {
      const r = results[i];
      return r instanceof Error || r.status !== 200;
    });
    assert.equal(
      failed.length,
      0,
      `sent before the signal but not answered 200: ${failed
        .slice(0, 3)
        .map((i) => String(results[i] instanceof Error ? (results[i] as Error).message : (results[i] as { body: string }).body))
        .join('; ')}`,
    );
    for (const i of signalled) assert.equal(JSON.parse((results[i] as { body: string }).body).tag, 'prod');
    assert.equal(await srv.exited, 0);
    assert.ok(srv.logs.some((l) => l.msg === 'edgebatch stopped'));
    agent.destroy();
    await assert.rejects(fetch(`${srv.url}/healthz`), 'no longer accepting connections');
  });
});
