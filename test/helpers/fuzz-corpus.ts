/**
 * A corpus of bad (and a few good) requests to the runtime's call routes, generated from a seed: the same
 * seed gives the same bodies on every run. Pure: it builds requests and sends nothing.
 */
import { mulberry32 } from '../../runtime/scheduler/arrivals.ts';

/** One request of the corpus. */
export interface FuzzRequest {
  /** What kind of bad input it is, for the summary. */
  readonly category: string;
  readonly path: string;
  /** Undefined: no Content-Type header at all. */
  readonly contentType: string | undefined;
  readonly body: Buffer;
  /** Extra headers (the v2 binary form's header length). */
  readonly headers?: Record<string, string>;
  /** Send `Expect: 100-continue` and the body only once the server says to go on. */
  readonly expectContinue?: boolean;
}

/** A body just over the default limit of 1 MiB, one for every request that sends one (they only read it). */
const overLimit = Buffer.from(`{"features": "${'a'.repeat(1024 * 1024)}"}`);

type Rand = () => number;

/** The routes a body is sent to: every example function and the v2 infer route of each model. */
const functionRoutes = ['mlp-classify', 'mlp-scores', 'text-direction', 'needs-rotation', 'read-line'].map((f) => `/functions/${f}`);
const v2Routes = ['mlp', 'ocr-cls', 'ocr-rec'].map((m) => `/v2/models/${m}/infer`);
const allRoutes = [...functionRoutes, ...v2Routes];

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (rand: Rand, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const bytes = (rand: Rand, n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** A value of any JSON type, small. */
function anyValue(rand: Rand, depth = 0): unknown {
  switch (int(rand, 0, depth > 2 ? 4 : 6)) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return (rand() - 0.5) * 10 ** int(rand, 0, 12);
    case 3:
      return pick(rand, ['', 'x', '128', 'NaN', 'true', '\u0000', '🙃'.repeat(int(rand, 1, 5))]);
    case 4:
      return pick(rand, [[], {}]);
    case 5:
      return Array.from({ length: int(rand, 1, 5) }, () => anyValue(rand, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: int(rand, 1, 4) }, (_, i) => [
          pick(rand, ['features', 'image', 'inputs', 'x', `k${i}`]),
          anyValue(rand, depth + 1),
        ]),
      );
  }
}

/** A plausible field for a route: features for the MLP functions, an image for the OCR ones, inputs for v2. */
function fieldOf(path: string): string {
  if (path.startsWith('/v2/')) return 'inputs';
  return path.includes('mlp') ? 'features' : 'image';
}

const features = (n: number, at: (i: number) => number) => Array.from({ length: n }, (_, i) => at(i));

/** Each category: how to make one request of it. */
const categories: Record<string, (rand: Rand) => FuzzRequest> = {
  'malformed JSON': (rand) => {
    const good = JSON.stringify({ features: features(128, (i) => i / 128) });
    const body = pick(rand, [
      good.slice(0, int(rand, 0, good.length - 1)),
      good.replace(',', ',,'),
      good.replace(/"/g, "'"),
      `${good}}`,
      `{"features": [NaN, Infinity, -Infinity]}`,
      `{"image": "unterminated`,
      `{features: [1, 2]}`,
      '[1, 2, 3,]',
      `{"a": 01}`,
      'undefined',
    ]);
    return { category: 'malformed JSON', path: pick(rand, allRoutes), contentType: 'application/json', body: Buffer.from(body) };
  },
  'wrong types': (rand) => {
    const path = pick(rand, allRoutes);
    const v = rand() < 0.5 ? anyValue(rand) : { [fieldOf(path)]: anyValue(rand) };
    return { category: 'wrong types', path, contentType: 'application/json', body: json(v) };
  },
  'wrong shapes': (rand) => {
    const path = pick(rand, [...functionRoutes.slice(0, 2), ...v2Routes]);
    if (path.startsWith('/v2/')) {
      const n = int(rand, 0, 300);
      const shape = pick(rand, [[1, n], [n], [2, 64], [-1, 128], [0, 128], [1, 128, 1], [1, 3, 48, int(rand, 0, 400)], []]);
      return {
        category: 'wrong shapes',
        path,
        contentType: 'application/json',
        body: json({ inputs: [{ name: 'x', shape, datatype: 'FP32', data: features(n, (i) => i) }] }),
      };
    }
    const n = pick(rand, [0, 1, 127, 129, 256, int(rand, 2, 300)]);
    const nested = rand() < 0.3;
    return {
      category: 'wrong shapes',
      path,
      contentType: 'application/json',
      body: json({ features: nested ? [features(n, (i) => i)] : features(n, (i) => i) }),
    };
  },
  'huge numbers': (rand) => {
    const big = pick(rand, [
      '1e308',
      '-1e308',
      '1e309',
      '-1e309',
      '1' + '0'.repeat(400),
      '3.4028236e38',
      '1e-400',
      '123456789012345678901234567890',
    ]);
    const path = pick(rand, [...functionRoutes.slice(0, 2), '/v2/models/mlp/infer']);
    const data = Array.from({ length: 128 }, () => (rand() < 0.5 ? big : String(rand()))).join(',');
    const body = path.startsWith('/v2/')
      ? `{"inputs": [{"name": "x", "shape": [1, 128], "datatype": "FP32", "data": [${data}]}]}`
      : `{"features": [${data}]}`;
    return { category: 'huge numbers', path, contentType: 'application/json', body: Buffer.from(body) };
  },
  'deep nesting': (rand) => {
    const depth = pick(rand, [100, 1000, 10_000, 100_000]);
    const path = pick(rand, allRoutes);
    const inner = rand() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    return { category: 'deep nesting', path, contentType: 'application/json', body: Buffer.from(`{"${fieldOf(path)}": ${inner}}`) };
  },
  'huge strings': (rand) => {
    const path = pick(rand, functionRoutes);
    // Up to 1,000,000 bytes of string: under the default body limit of 1 MiB with the rest of the body.
    const unit = pick(rand, ['A', 'é', '\\u0000', '/']);
    const s = unit.repeat(Math.floor(int(rand, 100_000, 1_000_000) / Buffer.byteLength(unit)));
    return { category: 'huge strings', path, contentType: 'application/json', body: Buffer.from(`{"${fieldOf(path)}": "${s}"}`) };
  },
  'bad base64': (rand) => {
    const path = pick(rand, functionRoutes.slice(2));
    const image = pick(rand, [
      bytes(rand, int(rand, 1, 200)).toString('latin1'),
      'data:image/png;base64,' + bytes(rand, 64).toString('base64'),
      bytes(rand, int(rand, 8, 2000)).toString('base64'),
      '====',
      'iVBORw0KGgo' + '!'.repeat(int(rand, 1, 50)),
      Buffer.from('\x89PNG\r\n\x1a\n').toString('base64') + bytes(rand, 100).toString('base64'),
    ]);
    return { category: 'bad base64', path, contentType: 'application/json', body: json({ image }) };
  },
  'bad content types': (rand) => ({
    category: 'bad content types',
    path: pick(rand, allRoutes),
    contentType: pick(rand, [
      'text/html',
      'multipart/form-data; boundary=x',
      'image/gif',
      'application/xml',
      'application/json; charset=utf-16',
      ';;;',
      'image/',
      '*/*',
      '',
      'application/octet-stream',
      'image/png',
    ]),
    body: rand() < 0.5 ? json({ features: features(128, (i) => i) }) : bytes(rand, int(rand, 0, 300)),
  }),
  'bad v2 bodies': (rand) => {
    const path = pick(rand, v2Routes);
    const good = { name: 'x', shape: [1, 128], datatype: 'FP32', data: features(128, (i) => i) };
    const variants: unknown[] = [
      {},
      { inputs: [] },
      { inputs: {} },
      { inputs: [{ ...good, name: 'nope' }] },
      { inputs: [{ ...good, datatype: pick(rand, ['FP99', 'BYTES', 'BOOL', 'INT64', 'fp32', '']) }] },
      { inputs: [{ ...good, data: 'abc' }] },
      { inputs: [{ ...good, data: features(127, (i) => i) }] },
      { inputs: [good, good] },
      { inputs: [good], outputs: [{ name: 'nope' }] },
      { inputs: [good], outputs: 'all' },
      { inputs: [good], parameters: { binary_data_output: 'yes' } },
      { inputs: [{ ...good, parameters: { binary_data_size: 1e12 } }] },
      { id: { x: 1 }, inputs: [good] },
      { inputs: [{ ...good, shape: [1e9, 1e9] }] },
    ];
    return { category: 'bad v2 bodies', path, contentType: 'application/json', body: json(pick(rand, variants)) };
  },
  'bad v2 binary': (rand) => {
    const head = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 128], datatype: 'FP32', parameters: { binary_data_size: pick(rand, [512, 511, 0, 1e9, -4]) } }],
      }),
    );
    const headerLength = pick(rand, [String(head.length), '0', '-1', String(head.length + 1000), 'abc', String(head.length - 3)]);
    return {
      category: 'bad v2 binary',
      path: pick(rand, v2Routes),
      contentType: 'application/octet-stream',
      headers: { 'inference-header-content-length': headerLength },
      body: Buffer.concat([head, bytes(rand, int(rand, 0, 600))]),
    };
  },
  'binary garbage': (rand) => ({
    category: 'binary garbage',
    path: pick(rand, allRoutes),
    contentType: pick(rand, ['application/json', undefined, 'application/octet-stream', 'image/png', 'image/jpeg', 'text/plain']),
    body: bytes(rand, int(rand, 0, 4000)),
  }),
  'unicode oddities': (rand) => {
    const path = pick(rand, allRoutes);
    const odd = pick(rand, ['\\ud800', '\\udfff\\ud800', '\uFEFF', '\u202E', '\u0000', 'e\u0301', '\uFFFF', '𝟙𝟚𝟛']);
    const body = pick(rand, [
      `\uFEFF{"${fieldOf(path)}": []}`,
      `{"${fieldOf(path)}": "${odd}"}`,
      `{"${odd}": 1}`,
      `{"features": ["${odd}"]}`,
    ]);
    // Some as invalid UTF-8: a lone continuation byte or an overlong encoding inside the JSON.
    const buf = Buffer.from(body);
    return {
      category: 'unicode oddities',
      path,
      contentType: 'application/json',
      body: rand() < 0.3 ? Buffer.concat([buf.subarray(0, 2), Buffer.from([0xc0, 0xaf, 0x80]), buf.subarray(2)]) : buf,
    };
  },
  'duplicated keys': (rand) => {
    const path = pick(rand, allRoutes);
    const f = fieldOf(path);
    const good = path.startsWith('/v2/')
      ? JSON.stringify([{ name: 'x', shape: [1, 128], datatype: 'FP32', data: features(128, (i) => i) }])
      : JSON.stringify(features(128, (i) => i));
    const body = pick(rand, [
      `{"${f}": ${good}, "${f}": "x"}`,
      `{"${f}": "x", "${f}": ${good}}`,
      `{"__proto__": {"${f}": 1}, "constructor": {"prototype": {}}}`,
      `{"${f}": ${good}, "__proto__": null}`,
    ]);
    return { category: 'duplicated keys', path, contentType: 'application/json', body: Buffer.from(body) };
  },
  'empty and odd bodies': (rand) => ({
    category: 'empty and odd bodies',
    path: pick(rand, allRoutes),
    contentType: pick(rand, ['application/json', undefined, 'text/plain', 'application/x-www-form-urlencoded']),
    body: Buffer.from(pick(rand, ['', ' ', '\n', 'null', '0', '""', '[]', '{}', 'features=1&features=2', 'true'])),
  }),
  'over the body limit, asking to continue': (rand) => ({
    category: 'over the body limit, asking to continue',
    path: pick(rand, allRoutes),
    contentType: 'application/json',
    body: overLimit,
    expectContinue: true,
  }),
  'unknown routes': (rand) => ({
    category: 'unknown routes',
    path: pick(rand, [
      '/functions/nope',
      '/functions/%2e%2e',
      '/functions/%E0%A4%A',
      '/v2/models/nope/infer',
      '/v2/models/mlp/versions/2/infer',
      '/functions/mlp-classify/extra',
      `/functions/${'a'.repeat(300)}`,
    ]),
    contentType: 'application/json',
    body: json({ features: [1] }),
  }),
};

/** The names of the categories, in a fixed order. */
export const fuzzCategories = Object.keys(categories);

/**
 * `count` requests over every category in turn, from `seed`.
 *
 * @example
 * for (const r of fuzzCorpus(15, 5000)) send(r);
 */
export function fuzzCorpus(seed: number, count: number): FuzzRequest[] {
  const rand = mulberry32(seed);
  const makers = Object.values(categories);
  return Array.from({ length: count }, (_, i) => makers[i % makers.length](rand));
}
