/**
 * Reading a V8 .cpuprofile (what `node --cpu-prof` writes): self time per sample, optionally only the
 * samples inside a time window, summed by category (GC, idle, node:http, undici/WHATWG, worker messaging,
 * hono, zod, prom-client, pino, each edgebatch runtime file, onnxruntime, ...) and by function.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }[];
  /** Microseconds, on the profiled process's monotonic clock. */
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A file URL (tsx adds a query string) as a path, or the URL as it is. */
function pathOf(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return fileURLToPath(url.replace(/\?.*$/, ''));
  } catch {
    return url;
  }
}

const NATIVE = 'V8 builtins & native (no script)';
const PINO =
  /\/node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify)\//;
const WHATWG =
  /^node:internal\/(deps\/undici|webstreams|abort_controller|event_target|blob|url|encoding|webidl|structured_clone)|^node:(url|stream\/web)$/;
const HTTP = /^node:(_http_\w+|http|https|net|stream|dns)$|^node:internal\/(http|net|stream_base_commons|streams\/|js_stream_socket|dns)/;

/**
 * The category of one frame; `root` is the repository root, for naming the runtime's own files. A native
 * frame (no script: `writev`, `JSON.parse`, ...) has no category of its own: summarize() charges it to the
 * nearest caller that has one, so a socket write counts as node:http and a body's JSON.parse as its parser.
 */
export function categoryOf(cf: CallFrame, root: string): string {
  const fn = cf.functionName;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)' || fn === '(root)') return 'program (V8/native, unattributed)';
  const u = pathOf(cf.url);
  if (
    /postMessage|makeTransferable|MessagePort|receiveMessageOnPort/.test(fn) ||
    /^node:internal\/(worker|per_context\/messageport)/.test(u)
  )
    return 'worker messaging';
  if (u.includes('/node_modules/@hono/node-server/')) return '@hono/node-server';
  if (u.includes('/node_modules/hono/')) return 'hono';
  if (u.includes('/node_modules/zod/')) return 'zod';
  if (u.includes('/node_modules/prom-client/')) return 'prom-client';
  if (PINO.test(u)) return 'pino';
  if (/\/node_modules\/onnxruntime-(node|common)\//.test(u)) return 'onnxruntime';
  if (WHATWG.test(u)) return 'undici / WHATWG Request, URL, web streams';
  if (HTTP.test(u)) return 'node:http, net & streams internals';
  if (u.startsWith('node:')) return 'other node internals';
  if (u.includes('/node_modules/')) return `other packages (${/\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1] ?? '?'})`;
  if (u === '') return NATIVE;
  const rel = path.relative(root, u);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) {
    if (rel.startsWith(`runtime${path.sep}`)) return `edgebatch ${rel}`;
    if (rel.startsWith(`functions${path.sep}`)) return 'handlers (functions/)';
    // The build's chunks mix runtime files; `npm run profile -- --sources` names them one by one.
    if (rel.startsWith(`dist${path.sep}`)) return 'edgebatch (built, dist/)';
  }
  return 'other';
}

export interface ProfileSummary {
  /** Sampled time inside the window, ms. */
  totalMs: number;
  /** Of which idle, ms. */
  idleMs: number;
  samples: number;
  /** Whether a window was applied (false when it held no sample, e.g. another clock). */
  windowed: boolean;
  byCategory: { category: string; ms: number }[];
  byFunction: { name: string; where: string; category: string; ms: number }[];
}

/**
 * Self time per node: each sample is charged the time until the next one. With `window` (us, the
 * profile's clock), only samples taken inside it count; if none do, the whole profile is used.
 */
export function summarize(p: CpuProfile, root: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** A node's category; a native frame takes its nearest scripted caller's. */
  const categoryAt = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const c = categoryOf(byId.get(at)!.callFrame, root);
      if (c !== NATIVE) return c;
    }
    return NATIVE;
  };
  const selfUs = new Map<number, number>();
  let count = 0;
  let windowed = false;
  if (p.samples?.length && p.timeDeltas?.length) {
    const ts: number[] = [];
    let t = p.startTime;
    for (const d of p.timeDeltas) ts.push((t += d));
    const take = (inside: (t: number) => boolean) => {
      selfUs.clear();
      count = 0;
      for (let i = 0; i < p.samples!.length; i++) {
        if (!inside(ts[i])) continue;
        const dt = i + 1 < ts.length ? ts[i + 1] - ts[i] : 0;
        selfUs.set(p.samples![i], (selfUs.get(p.samples![i]) ?? 0) + dt);
        count++;
      }
    };
    if (window) {
      take((x) => x >= window.fromUs && x < window.toUs);
      windowed = count > 0;
    }
    if (!windowed) take(() => true);
  } else {
    const hits = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
    const per = hits ? (p.endTime - p.startTime) / hits : 0;
    for (const n of p.nodes) if (n.hitCount) selfUs.set(n.id, n.hitCount * per);
    count = hits;
  }
  const cats = new Map<string, number>();
  const fns = new Map<string, { name: string; where: string; category: string; ms: number }>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    const category = categoryAt(id);
    totalUs += us;
    cats.set(category, (cats.get(category) ?? 0) + us);
    const u = pathOf(cf.url);
    const rel = u.startsWith(root) ? path.relative(root, u) : u;
    // tsx compiles each TypeScript file to one line, so the column is what tells its functions apart.
    const where = rel ? `${rel}:${cf.lineNumber + 1}:${cf.columnNumber + 1}` : cf.functionName.startsWith('(') ? '' : 'native';
    const key = `${cf.functionName}\u0000${where}`;
    const f = fns.get(key) ?? { name: cf.functionName || '(anonymous)', where, category, ms: 0 };
    f.ms += us / 1000;
    fns.set(key, f);
  }
  return {
    totalMs: totalUs / 1000,
    idleMs: (cats.get('idle') ?? 0) / 1000,
    samples: count,
    windowed,
    byCategory: [...cats].map(([category, us]) => ({ category, ms: us / 1000 })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fns.values()].sort((a, b) => b.ms - a.ms),
  };
}

/** Text tables: shares by category (of all sampled time and of the non-idle part), then the top functions. */
export function formatSummary(s: ProfileSummary, top = 15): string[] {
  const busy = s.totalMs - s.idleMs;
  const pct = (x: number, of: number) => (of > 0 ? `${((100 * x) / of).toFixed(1)}%` : '-');
  const L: string[] = [];
  L.push(
    `${s.samples} samples, ${s.totalMs.toFixed(0)} ms sampled${s.windowed ? ' inside the load window' : ' (whole profile)'}, ${busy.toFixed(0)} ms not idle`,
  );
  L.push('', `${'category'.padEnd(48)} ${'self ms'.padStart(9)} ${'of all'.padStart(7)} ${'of busy'.padStart(8)}`);
  for (const c of s.byCategory)
    L.push(
      `${c.category.padEnd(48)} ${c.ms.toFixed(1).padStart(9)} ${pct(c.ms, s.totalMs).padStart(7)} ${c.category === 'idle' ? ''.padStart(8) : pct(c.ms, busy).padStart(8)}`,
    );
  L.push(
    '',
    `top ${top} functions by self time (idle left out; positions in the code as V8 ran it, for .ts files tsx's compiled output):`,
    `${'self ms'.padStart(9)} ${'of busy'.padStart(8)}  function (where) [category]`,
  );
  for (const f of s.byFunction.filter((x) => x.category !== 'idle').slice(0, top))
    L.push(`${f.ms.toFixed(1).padStart(9)} ${pct(f.ms, busy).padStart(8)}  ${f.name}${f.where ? ` (${f.where})` : ''} [${f.category}]`);
  return L;
}
