/**
 * The reliability fuzz suite: a corpus of bad bodies made from a fixed seed (test/helpers/fuzz-corpus.ts)
 * sent to the real runtime's function and v2 routes over a few keep-alive connections. Every request must
 * be answered, none with a 5xx, every error as JSON with a code (v2: the protocol's `{ "error": "..." }`),
 * no error line logged, and the runtime must give the same answers right after as before.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig, serve, type Serving } from 'edgebatch';
import { fuzzCategories, fuzzCorpus, type FuzzRequest } from '../helpers/fuzz-corpus.ts';
import { fixtures } from '../helpers/fixtures.ts';
import { call } from '../helpers/serve.ts';

const seed = 15;
const count = 5200;
/** Requests in flight at once, each on its own keep-alive connection. */
const concurrency = 8;

let s: Serving;
const errorLines: any[] = [];
before(async () => {
  // Admission off: a 503 from a shared machine's load is not what this suite looks for; every body must
  // be judged on what it is.
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l && JSON.parse(l).level >= 50) errorLines.push(JSON.parse(l));
      done();
    },
  });
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0' };
  s = await serve(await loadConfig('hono.config.ts', { scheduler: { admission: false } }, env), pino({ level: 'warn' }, sink));
});
after(() => s.stop());

interface Answer {
  status: number;
  body: string;
  /** The server said 100 Continue. */
  continued: boolean;
}

function send(agent: http.Agent, r: FuzzRequest): Promise<Answer> {
  const { hostname, port } = new URL(s.url);
  const headers: Record<string, string | number> = { ...r.headers, 'content-length': r.body.length };
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.expectContinue) headers.expect = '100-continue';
  let continued = false;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: r.path, method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8'), continued }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Asking first, the body goes only on 100 Continue; a refusal answers before it.
    if (r.expectContinue)
      req.on('continue', () => {
        continued = true;
        req.end(r.body);
      });
    else req.end(r.body);
  });
}

/** The error code of a reply: `error.code` on the runtime's routes, `v2` for the protocol's string error. */
function codeOf(r: FuzzRequest, a: Answer): string | undefined {
  if (a.status < 400) return undefined;
  let body: any;
  try {
    body = JSON.parse(a.body);
  } catch {
    return undefined;
  }
  if (r.path.startsWith('/v2/models/') && typeof body?.error === 'string') return 'v2';
  return typeof body?.error?.code === 'string' ? body.error.code : undefined;
}

/** What the runtime answers to known inputs: compared before and after the corpus. */
async function knownAnswers(): Promise<unknown[]> {
  const features = Array.from({ length: 128 }, (_, i) => Math.cos(i / 7));
  const v2 = await fetch(`${s.url}/v2/models/mlp/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP32', data: features }] }),
  });
  const mlp = await call(s.url, 'mlp-classify', { features });
  return [
    { status: mlp.status, body: mlp.body },
    { status: v2.status, body: ((await v2.json()) as any).outputs },
    ...(await Promise.all(fixtures.slice(0, 2).map(async (f) => (await call(s.url, 'text-direction', { image: f.base64 })).body))),
  ];
}

test(
  `${count} fuzzed bodies (seed ${seed}): all answered, no 5xx, every error JSON with a code, the runtime serving the same answers after`,
  { timeout: 600_000 },
  async () => {
    const corpus = fuzzCorpus(seed, count);
    assert.equal(new Set(corpus.map((r) => r.category)).size, fuzzCategories.length, 'every category is in the corpus');
    const before = await knownAnswers();
    assert.equal((before[0] as Answer).status, 200);
    assert.equal(fixtures[0].angle, (before[2] as any).angle, 'a known answer to begin with');

    const agents = Array.from({ length: concurrency }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    const tally = new Map<string, number>();
    const byCategory = new Map<string, Map<string, number>>();
    const problems: string[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      agents.map(async (agent) => {
        while (next < corpus.length) {
          const r = corpus[next++];
          let a: Answer;
          try {
            a = await send(agent, r);
          } catch (err) {
            problems.push(`${r.category} ${r.path}: no answer (${(err as Error).message})`);
            continue;
          }
          const code = codeOf(r, a);
          const key = `${a.status} ${code ?? ''}`.trim();
          tally.set(key, (tally.get(key) ?? 0) + 1);
          const cat = byCategory.get(r.category) ?? new Map<string, number>();
          cat.set(key, (cat.get(key) ?? 0) + 1);
          byCategory.set(r.category, cat);
          if (r.expectContinue && a.continued) problems.push(`${r.category} ${r.path}: 100 Continue for a body over the limit`);
          if (a.status >= 500) problems.push(`${r.category} ${r.path}: ${a.status} ${a.body.slice(0, 200)}`);
          else if (a.status >= 400 && code === undefined)
            problems.push(`${r.category} ${r.path}: ${a.status} without a JSON error code: ${a.body.slice(0, 200)}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    for (const agent of agents) agent.destroy();

    console.log(`fuzz: ${corpus.length} bodies, seed ${seed}, ${concurrency} connections, ${seconds.toFixed(1)} s`);
    console.log(
      `  by status and code: ${[...tally]
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(', ')}`,
    );
    for (const [cat, t] of byCategory)
      console.log(
        `  ${cat}: ${[...t]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')}`,
      );

    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} problems`);
    assert.equal(
      [...tally.values()].reduce((a, b) => a + b, 0),
      corpus.length,
      'every request answered',
    );
    assert.deepEqual(
      errorLines.map((l) => l.msg),
      [],
      'no error logged',
    );
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    assert.deepEqual(await knownAnswers(), before, 'the same answers after the corpus');
  },
);
