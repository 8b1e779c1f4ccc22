/**
 * Reading Linux `perf script` output of one thread (what `npm run profile -- --perf` records on the server's
 * main thread): every sample's stack, summed by phase of the event loop, by V8 slow path (a call from
 * JavaScript into V8's C++ runtime, with the JavaScript function that made it) and by leaf symbol.
 *
 * Why beside the V8 profile (report/cpu-profile.ts): perf samples the thread's CPU time, native code, V8's
 * builtins and the kernel included, where `--cpu-prof` samples wall time in JavaScript and under-counted the
 * runtime's CPU against hono-echo's. And a slow path shows up by name (`Runtime_DefineNamedOwnIC_Slow`),
 * which is how a spread in an options literal was found on every call (removed with two smaller changes
 * beside it, the host path's CPU per call fell by about a tenth).
 * JavaScript frames are named by node's `--perf-basic-prof-only-functions` map: `JS:*name url:line:col`,
 * where `*` is optimised code (TurboFan), `+` Maglev, `^` baseline and `~` the interpreter (named only with
 * `--interpreted-frames-native-stack`, which the profile command passes).
 */

/** One sample's frames, leaf first, as symbol names (offsets and library names dropped). */
export type PerfStack = string[];

/** Parses `perf script` text: a header line per sample, then one indented line per frame, then a blank line. */
export function parsePerfScript(text: string): PerfStack[] {
  const stacks: PerfStack[] = [];
  let current: PerfStack | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current) stacks.push(current);
      current = undefined;
    } else if (line[0] !== ' ' && line[0] !== '\t') {
      if (current) stacks.push(current);
      current = [];
    } else if (current) {
      // "\t  7f1a2b Builtins_LoadIC+0x1c (/usr/bin/node)": the address, the symbol, the object it is in.
      const m = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\([^()]*\)\s*$/.exec(line);
      current.push(m ? m[1] : line.trim());
    }
  }
  if (current) stacks.push(current);
  return stacks;
}

/**
 * Phases of the event loop, by a frame anywhere in the stack; the first that matches names the sample.
 * GC comes first (it runs inside any phase), then JavaScript entry points before the native code under them.
 */
const phases: readonly (readonly [string, RegExp])[] = [
  ['GC', /Heap::CollectGarbage|Scavenge|MarkCompact/],
  ['replies of finished batches (lane messages)', /MessagePort::OnMessage/],
  ['timers', /JS:.processTimers |JS:.listOnTimeout /],
  ['request start (request event: door, router, route)', /JS:.parserOnIncoming |JS:.parserOnHeadersComplete /],
  ['after a read (next ticks, microtasks: body, parse, validate, pre, queue)', /JS:.processTicksAndRejections |RunMicrotasks/],
  ['HTTP parsing and reads', /llhttp|Parser::Execute|Parser::OnStreamRead|OnUvRead/],
  ['accepting connections', /JS:.onconnection |OnConnection/],
  ['waiting in epoll', /epoll_pwait|epoll_wait/],
  ['event loop (libuv)', /uv__io_poll|uv_run|uv__run/],
];

export interface PerfSummary {
  samples: number;
  phases: { phase: string; samples: number }[];
  /** Calls into V8's runtime from JavaScript, by the function called and the JavaScript frame that called it. */
  slowPaths: { runtime: string; caller: string; samples: number }[];
  /** Leaf frames: where the thread was when sampled. */
  topSelf: { symbol: string; samples: number }[];
}

/** A frame in V8's C++ runtime (`v8::internal::Runtime_DefineNamedOwnIC_Slow`): the name to report. */
const runtimeCall = /Runtime_\w+/;

const byCount = <K>(m: Map<K, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

/** Sums parsed stacks; `shorten` rewrites frame names for display (e.g. drops the repository's root). */
export function summarizePerf(stacks: readonly PerfStack[], shorten: (frame: string) => string = (f) => f): PerfSummary {
  const phaseCounts = new Map<string, number>();
  const slow = new Map<string, number>();
  const self = new Map<string, number>();
  for (const stack of stacks) {
    const phase = phases.find(([, re]) => stack.some((f) => re.test(f)))?.[0] ?? 'other';
    bump(phaseCounts, phase);
    if (stack.length > 0) bump(self, shorten(stack[0]));
    const at = stack.findIndex((f) => runtimeCall.test(f));
    if (at >= 0) {
      const runtime = runtimeCall.exec(stack[at])![0];
      const caller = stack.slice(at + 1).find((f) => f.startsWith('JS:')) ?? '(no JavaScript caller)';
      bump(slow, `${runtime}\u0000${shorten(caller)}`);
    }
  }
  return {
    samples: stacks.length,
    phases: byCount(phaseCounts).map(([phase, samples]) => ({ phase, samples })),
    slowPaths: byCount(slow).map(([k, samples]) => {
      const [runtime, caller] = k.split('\u0000');
      return { runtime, caller, samples };
    }),
    topSelf: byCount(self).map(([symbol, samples]) => ({ symbol, samples })),
  };
}

/**
 * The summary as lines. With `perCall` (calls answered in the window and the sampling rate), each figure is
 * also given as microseconds of the thread's CPU per call.
 */
export function formatPerfSummary(s: PerfSummary, top: number, perCall?: { calls: number; hz: number }): string[] {
  const share = (n: number) => `${((100 * n) / Math.max(1, s.samples)).toFixed(1).padStart(5)}%`;
  const us = (n: number) =>
    perCall && perCall.calls > 0 ? ` ${((1e6 * n) / perCall.hz / perCall.calls).toFixed(1).padStart(6)} us/call` : '';
  const row = (n: number, what: string) => `  ${share(n)}${us(n)}  ${what}`;
  return [
    `main thread: ${s.samples} samples${perCall ? `, ${perCall.calls} calls answered${us(s.samples)}` : ''}`,
    'by phase of the event loop:',
    ...s.phases.map((p) => row(p.samples, p.phase)),
    `V8 slow paths (calls into V8's runtime from JavaScript), top ${top}:`,
    ...(s.slowPaths.length ? s.slowPaths.slice(0, top).map((p) => row(p.samples, `${p.runtime} from ${p.caller}`)) : ['  none']),
    `where the thread was (leaf frames), top ${top}:`,
    ...s.topSelf.slice(0, top).map((p) => row(p.samples, p.symbol)),
  ];
}
