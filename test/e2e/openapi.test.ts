/**
 * /openapi.json and /docs on a real runtime: the document is valid OpenAPI 3.1 (checked by a validator
 * package), every function's example passes its own request schema and the schema refuses a bad body,
 * the error table's responses are there, a client generated offline from the document reaches a
 * function and gets its answer, and the /docs page in headless Chromium sends an example and shows the
 * reply. Output (document, generated client, screenshot) goes to test/tmp/openapi/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { generateApi } from 'swagger-typescript-api';
import { z } from 'zod';
import type { Serving } from 'edgebatch';
import { requestSchemaOf } from '../../runtime/server/openapi/request-schema.ts';
import { launchBrowser, pageWithErrors } from '../helpers/browser.ts';
import { call, startRuntime } from '../helpers/serve.ts';

const out = 'test/tmp/openapi';
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

let s: Serving;
let doc: any;
before(async () => {
  s = await startRuntime();
  const res = await fetch(`${s.url}/openapi.json`);
  assert.equal(res.status, 200);
  doc = await res.json();
  writeFileSync(path.join(out, 'openapi.json'), JSON.stringify(doc, null, 2));
});
after(() => s.stop());

const operations = () => Object.entries(doc.paths).map(([route, item]: [string, any]) => ({ route, op: item.post }));

test('the document is valid OpenAPI 3.1, one operation per function', async () => {
  const validator = new Validator();
  const result = await validator.validate(doc);
  assert.deepEqual(result, { valid: true });
  assert.equal(validator.version, '3.1');
  assert.deepEqual(
    Object.keys(doc.paths),
    s.runtime.functions.list().map((f) => `/functions/${f.name}`),
  );
});

test("every function's example is the handler's own and passes its request schema, which refuses a bad body", () => {
  const ajv = new Ajv2020({ strict: false });
  for (const { route, op } of operations()) {
    const name = route.slice('/functions/'.length);
    const body = op.requestBody.content['application/json'];
    assert.deepEqual(body.example, JSON.parse(JSON.stringify(s.runtime.functions.get(name)!.definition.example)), route);
    assert.equal(op['x-edgebatch'].schemaExported, true, `${route}: zod schemas export JSON Schema`);
    const validate = ajv.compile(body.schema);
    assert.ok(validate(body.example), `${route}: ${ajv.errorsText(validate.errors)}`);
    assert.equal(validate({}), false, `${route}: an empty body is refused`);
  }
});

test('a function that takes raw bytes documents each raw type as binary and a form with a file, a JSON-only one only JSON', () => {
  const content = (name: string) => operations().find((o) => o.route === `/functions/${name}`)!.op.requestBody.content;
  assert.deepEqual(Object.keys(content('text-direction')), [
    'application/json',
    'image/png',
    'image/jpeg',
    'application/octet-stream',
    'multipart/form-data',
  ]);
  assert.deepEqual(content('text-direction')['image/png'].schema, { type: 'string', format: 'binary' });
  assert.deepEqual(content('text-direction')['multipart/form-data'].schema, {
    type: 'object',
    properties: { file: { type: 'string', format: 'binary' } },
    required: ['file'],
  });
  assert.deepEqual(Object.keys(content('mlp-classify')), ['application/json']);
});

test("the error table's replies are documented on every operation, with Retry-After on 503", () => {
  for (const { route, op } of operations()) {
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '404', '413', '415', '422', '500', '503', '504'], route);
    assert.ok(op.responses['503'].headers['retry-after'], route);
    assert.equal(op.responses['400'].content['application/json'].schema.$ref, '#/components/schemas/Error');
  }
});

test('a schema without a JSON Schema export is documented as any JSON, with the reason', () => {
  const plain = { '~standard': { version: 1, vendor: 'handmade', validate: (value: unknown) => ({ value }) } } as const;
  const r = requestSchemaOf(plain);
  assert.equal(r.exported, false);
  assert.match(r.exported ? '' : r.reason, /handmade schema has no Standard JSON Schema export/);
  assert.deepEqual(Object.keys(r.schema), ['description']);
  // zod's export is used as is, minus the dialect line (OpenAPI 3.1's is the same).
  assert.deepEqual(requestSchemaOf(z.object({ n: z.number().int() })).schema, {
    type: 'object',
    properties: { n: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
    required: ['n'],
  });
});

test('a client generated offline from the document reaches a function and gets its answer', async () => {
  // swagger-typescript-api reads the saved document (no network) and writes a fetch client.
  await generateApi({
    input: path.resolve(out, 'openapi.json'),
    output: path.resolve(out, 'client'),
    fileName: 'api.ts',
    httpClientType: 'fetch',
    silent: true,
  });
  const { Api } = await import(pathToFileURL(path.resolve(out, 'client', 'api.ts')).href);
  const api = new Api({ baseUrl: s.url });
  const example = s.runtime.functions.get('mlp-scores')!.definition.example;
  const generated = await api.functions.mlpScores(example);
  assert.equal(generated.status, 200);
  const direct = await call(s.url, 'mlp-scores', example);
  assert.equal(generated.data.scores.length, 10);
  // The same model on the same input: the same scores, whether called by the client or by hand.
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(generated.data.scores[i] - direct.body.scores[i]) < 1e-5, `score ${i}`);
});

test('/docs shows every function and sends its example from the page', async () => {
  const browser = await launchBrowser();
  try {
    const { page, errors } = await pageWithErrors(browser);
    await page.goto(`${s.url}/docs`);
    await page.locator('section#mlpClassify').waitFor();
    // The method badge and the path: "POST" + "/functions/<name>".
    const headings = await page.locator('section h2').allInnerTexts();
    assert.deepEqual(
      headings,
      s.runtime.functions.list().map((f) => `POST/functions/${f.name}`),
    );
    const section = page.locator('section#mlpClassify');
    await section.getByRole('button', { name: 'Send the example' }).click();
    await section.locator('pre', { hasText: /^200 OK/ }).waitFor();
    assert.match(await section.locator('pre', { hasText: /^200 OK/ }).innerText(), /"label": \d/);
    await page.screenshot({ path: path.join(out, 'docs.png') });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
