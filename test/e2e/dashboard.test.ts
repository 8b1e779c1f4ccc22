/**
 * The dashboard in headless Chromium, on a real runtime over loopback: real calls to the MLP functions
 * move the numbers on the page (rate, batch size, batches, and the shed count after an overload burst);
 * a runtime with a broken handler file and a model that fails to load shows both reasons. Screenshots go
 * to test/tmp/dashboard/. Judged by what the page shows, never by how fast this machine is.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Serving } from 'edgebatch';
import { launchBrowser, pageWithErrors } from '../helpers/browser.ts';
import { startRuntime } from '../helpers/serve.ts';

const out = 'test/tmp/dashboard';
mkdirSync(out, { recursive: true });

const features = (i: number) => JSON.stringify({ features: Array.from({ length: 128 }, (_, j) => Math.sin(i + j)) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls answered 503, per function, as this client saw them: what the page must show as shed. */
const shedSeen = new Map<string, number>();

async function post(base: string, name: string, i: number): Promise<number> {
  try {
    const res = await fetch(`${base}/functions/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: features(i),
    });
    await res.arrayBuffer();
    if (res.status === 503) shedSeen.set(name, (shedSeen.get(name) ?? 0) + 1);
    return res.status;
  } catch {
    return -1;
  }
}

/** The text of a field of a function's row, or of a model's card. */
const fnField = (page: Page, fn: string, field: string) => page.locator(`tr[data-function="${fn}"] [data-field="${field}"]`).innerText();
const modelField = (page: Page, model: string, field: string) =>
  page.locator(`.model[data-model="${model}"] [data-field="${field}"]`).innerText();
const number = (text: string) => (text === '–' ? NaN : Number.parseFloat(text));

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe('the dashboard on a runtime serving the example functions', () => {
  let s: Serving;
  let page: Page;
  let errors: string[];
  before(async () => {
    s = await startRuntime();
    ({ page, errors } = await pageWithErrors(browser));
    await page.goto(s.url);
    await page.locator('#connection', { hasText: 'live' }).waitFor();
  });
  after(async () => {
    await page.close();
    await s.stop();
  });

  test('lists every function and model, with no problems, before any call', async () => {
    const rows = await Promise.all((await page.locator('tr[data-function]').all()).map((tr) => tr.getAttribute('data-function')));
    assert.deepEqual(
      rows,
      s.runtime.functions.list().map((f) => f.name),
    );
    assert.equal(await fnField(page, 'mlp-classify', 'slo'), '50');
    assert.equal(await fnField(page, 'mlp-classify', 'origin'), 'file');
    assert.equal(await fnField(page, 'mlp-classify', 'version'), s.runtime.functions.get('mlp-classify')!.version);
    assert.equal(await fnField(page, 'mlp-classify', 'shed'), '0');
    assert.equal(await modelField(page, 'mlp', 'state'), 'ready');
    assert.equal(await page.locator('#problems li').innerText(), 'none');
    // The fit from the warm-up probe is drawn with its points before any call.
    assert.match(await modelField(page, 'mlp', 'fit'), /τ\(b\) = [\d.]+·b \+ [\d.]+ ms/);
    assert.ok((await page.locator('#mlp-fit circle').count()) > 0, 'the probe points are drawn');
  });

  test('concurrent calls show as a rate, batches of more than one, and the bound beside the measured mean', async () => {
    const batchesBefore = number(await modelField(page, 'mlp', 'batches'));
    // Waves of 48 concurrent calls over both functions of the model until the page has shown what they
    // caused: every wave batches across mlp-classify and mlp-scores.
    let loading = true;
    const load = (async () => {
      for (let wave = 0; loading; wave++) {
        await Promise.all(Array.from({ length: 48 }, (_, i) => post(s.url, i % 2 ? 'mlp-scores' : 'mlp-classify', wave * 48 + i)));
      }
    })();
    try {
      // A string, not a function: tsx's transform would add helpers to a function that the page lacks.
      const above = (selector: string, min: number) => `Number.parseFloat(document.querySelector('${selector}')?.textContent) > ${min}`;
      await page.waitForFunction(
        [
          above('tr[data-function="mlp-classify"] [data-field="rate"]', 0),
          above('tr[data-function="mlp-scores"] [data-field="rate"]', 0),
          above('.model[data-model="mlp"] [data-field="batch-now"]', 1),
          above('.model[data-model="mlp"] [data-field="measured"]', 0),
        ].join(' && '),
        undefined,
        { timeout: 60_000 },
      );
    } finally {
      loading = false;
      await load;
    }
    assert.ok(number(await modelField(page, 'mlp', 'batches')) > batchesBefore, 'the batch count grew');
    assert.ok(number(await fnField(page, 'mlp-classify', 'batch')) > 1, 'calls rode in batches of more than one');
    assert.ok(number(await modelField(page, 'mlp', 'bound')) > 0, 'the bound is shown');
    // Right after the waves the live rate may still saturate the host stage; the page then says so.
    assert.match(
      await modelField(page, 'mlp', 'host-share'),
      /^(host \d+\.\d% \/ device \d+\.\d%|host stage saturated|device stage saturated)$/,
    );
    assert.match(await modelField(page, 'mlp', 'joules'), /^\d+\.\d{4} J\/inference$/);
    assert.ok((await page.locator('#mlp-histogram rect').count()) > 1, 'the histogram has batches of several sizes');
    assert.ok((await page.locator('#mlp-batch path').count()) > 0, 'batch size over time is drawn');
    assert.equal(await page.locator('#mlp-bound path').count(), 2, 'the bound and the measured mean are drawn');
    await page.screenshot({ path: path.join(out, 'under-load.png'), fullPage: true });
  });

  test('an overload burst shows as calls shed', async () => {
    // As in overload.e2e: 2,400 calls in about 0.6 s, beyond what the event loop can answer in time.
    const burst: Promise<number>[] = [];
    for (let i = 0; i < 2400; i++) {
      burst.push(post(s.url, 'mlp-classify', i));
      if (i % 40 === 39) await sleep(10);
    }
    const statuses = await Promise.all(burst);
    assert.ok(!statuses.includes(-1), 'every call of the burst got an answer');
    const shed = statuses.filter((status) => status === 503).length;
    assert.ok(shed > 0, 'the burst was beyond capacity');
    // The page shows exactly the calls answered 503 (the waves before the burst may have had some too).
    const expected = shedSeen.get('mlp-classify');
    const shown = page.locator('tr[data-function="mlp-classify"] [data-field="shed"]');
    await page
      .waitForFunction(
        `document.querySelector('tr[data-function="mlp-classify"] [data-field="shed"]')?.textContent === '${expected}'`,
        undefined,
        { timeout: 10_000 },
      )
      .catch(async (err) => {
        throw new Error(`page shows ${await shown.innerText()} shed, ${expected} calls were answered 503: ${err}`);
      });
    assert.match(await fnField(page, 'mlp-classify', 'attainment'), /^\d+\.\d%$/);
    await page.screenshot({ path: path.join(out, 'after-burst.png'), fullPage: true });
  });

  test('the page logged no console errors', () => {
    assert.deepEqual(errors, []);
  });
});

describe('the dashboard on a runtime with a broken handler file and a model that failed to load', () => {
  const dir = mkdtempSync(path.join('test/tmp', 'dashboard-faults-'));
  const fnDir = path.join(dir, 'functions');
  let s: Serving;
  before(async () => {
    mkdirSync(fnDir);
    // Names a model that does not exist: refused at load, as a deploy would be.
    writeFileSync(
      path.join(fnDir, 'orphan.ts'),
      "import { z } from 'zod';\nexport default { model: 'no-such-model', slo: '1s', input: z.object({}), pre: () => ({ data: new Float32Array(1), dims: [1] }), post: () => ({}), example: {} };\n",
    );
    s = await startRuntime({
      functionsDir: path.resolve(fnDir),
      models: { missing: { file: path.resolve(dir, 'missing.onnx'), maxBatch: 4 } },
    });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('shows the file and the model with their reasons', async () => {
    const { page, errors } = await pageWithErrors(browser);
    await page.goto(s.url);
    await page.locator('#connection', { hasText: 'live' }).waitFor();
    const problems = await page.locator('#problems li').allInnerTexts();
    const file = problems.find((p) => p.includes('orphan.ts'));
    const model = problems.find((p) => p.startsWith('model missing'));
    assert.match(file ?? '', /no-such-model/, problems.join('\n'));
    assert.match(model ?? '', /failed to load: .*missing\.onnx/, problems.join('\n'));
    assert.equal(await modelField(page, 'missing', 'state'), 'failed');
    await page.screenshot({ path: path.join(out, 'problems.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });
});
