/**
 * The reader behind `npm run profile -- --perf`: perf's text format parsed, samples put in their phase of
 * the event loop, V8 slow paths named with their JavaScript caller. A fixture in the format `perf script`
 * prints, so the test needs no perf.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPerfSummary, parsePerfScript, summarizePerf } from '../bench/report/perf-stacks.ts';

const fixture = [
  'node 4242 100.000001:     500000 cpu-clock: ',
  '\t          9a1b2c v8::internal::Runtime_DefineNamedOwnIC_Slow+0x12 (/usr/bin/node)',
  '\t          9a0000 Builtins_CEntry_Return1_ArgvOnStack_NoBuiltinExit+0x3d (/usr/bin/node)',
  '\t    7f00000010a0 JS:*route file:///repo/dist/chunk-A.js:10:5+0x40 (/tmp/perf-4242.map)',
  '\t    7f0000000f00 JS:*parserOnIncoming node:_http_server:1026:26+0x1c0 (/tmp/perf-4242.map)',
  '\t          7c0000 node::(anonymous namespace)::Parser::Execute+0x50 (/usr/bin/node)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.000501:     500000 cpu-clock: ',
  '\t          8b0000 v8::internal::Scavenger::ScavengeObject+0x21 (/usr/bin/node)',
  '\t          8a0000 v8::internal::Heap::CollectGarbage+0x99 (/usr/bin/node)',
  '\t    7f0000000f00 JS:*parserOnIncoming node:_http_server:1026:26+0x1c0 (/tmp/perf-4242.map)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.001001:     500000 cpu-clock: ',
  '\tffffffff8172fab8 do_epoll_wait+0x548 ([kernel.kallsyms])',
  '\t          108cae epoll_pwait+0x6e (/usr/lib/x86_64-linux-gnu/libc.so.6)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.001501:     500000 cpu-clock: ',
  '\t          9b0000 Builtins_LoadIC+0x8 (/usr/bin/node)',
  '\t    7f00000020a0 JS:*run file:///repo/dist/chunk-A.js:99:3+0x10 (/tmp/perf-4242.map)',
  '\t    7f00000030a0 JS:*processTicksAndRejections node:internal/process/task_queues:67:35+0x90 (/tmp/perf-4242.map)',
  '\t          7d0000 node::worker::MessagePort::OnMessage+0x77 (/usr/bin/node)',
  '',
  'node 4242 100.002001:     500000 cpu-clock: ',
  '\t          9b0000 Builtins_LoadIC+0x8 (/usr/bin/node)',
  '\t          aaaaaa [unknown] ([unknown])',
  '',
  // One sample for each phase the ones above do not reach, each with nothing else that would name it.
  'node 4242 100.002501:     500000 cpu-clock: ',
  '\t    7f00000040a0 JS:*listOnTimeout node:internal/timers:524:25+0x10 (/tmp/perf-4242.map)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.003001:     500000 cpu-clock: ',
  '\t    7f00000030a0 JS:*processTicksAndRejections node:internal/process/task_queues:67:35+0x90 (/tmp/perf-4242.map)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.003501:     500000 cpu-clock: ',
  '\t          7c1000 llhttp__internal_execute+0x30 (/usr/bin/node)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.004001:     500000 cpu-clock: ',
  '\t    7f00000050a0 JS:*onconnection node:net:2168:22+0x10 (/tmp/perf-4242.map)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
  '',
  'node 4242 100.004501:     500000 cpu-clock: ',
  '\t          14b0000 uv__io_poll+0x100 (/usr/bin/node)',
  '\t          14ac92c uv_run+0x20c (/usr/bin/node)',
].join('\n');

test("perf's text is read as one stack per sample, leaf first, without offsets or libraries", () => {
  const stacks = parsePerfScript(fixture);
  assert.equal(stacks.length, 10, 'the last sample needs no blank line after it');
  assert.deepEqual(stacks[2], ['do_epoll_wait', 'epoll_pwait', 'uv_run']);
  assert.equal(stacks[0][2], 'JS:*route file:///repo/dist/chunk-A.js:10:5');
  assert.deepEqual(stacks[4], ['Builtins_LoadIC', '[unknown]']);
});

test('samples go to their phase; GC wins over the phase it ran in, a lane message over the ticks under it', () => {
  const s = summarizePerf(parsePerfScript(fixture));
  const phase = Object.fromEntries(s.phases.map((p) => [p.phase, p.samples]));
  assert.deepEqual(phase, {
    'request start (request event: door, router, route)': 1,
    GC: 1,
    'waiting in epoll': 1,
    'replies of finished batches (lane messages)': 1,
    other: 1,
    timers: 1,
    'after a read (next ticks, microtasks: body, parse, validate, pre, queue)': 1,
    'HTTP parsing and reads': 1,
    'accepting connections': 1,
    'event loop (libuv)': 1,
  });
  assert.equal(s.samples, 10);
});

test('a slow path is named with the JavaScript frame that called it, and leaves are counted', () => {
  const s = summarizePerf(parsePerfScript(fixture), (f) => f.replace('file:///repo/', ''));
  assert.deepEqual(s.slowPaths, [{ runtime: 'Runtime_DefineNamedOwnIC_Slow', caller: 'JS:*route dist/chunk-A.js:10:5', samples: 1 }]);
  assert.deepEqual(s.topSelf[0], { symbol: 'Builtins_LoadIC', samples: 2 });
});

test('the summary prints shares, and microseconds per call given the calls and the rate', () => {
  const s = summarizePerf(parsePerfScript(fixture));
  const lines = formatPerfSummary(s, 3, { calls: 10, hz: 1000 });
  // 10 samples at 1,000 per second over 10 calls: 1,000 us a call; one sample: 100 us, 10%.
  assert.match(lines[0], /10 samples, 10 calls answered\s+1000\.0 us\/call/);
  assert.ok(lines.some((l) => /10\.0%\s+100\.0 us\/call\s+GC/.test(l)));
  assert.ok(lines.some((l) => /Runtime_DefineNamedOwnIC_Slow from JS:\*route/.test(l)));
  assert.deepEqual(formatPerfSummary(summarizePerf([]), 3).slice(-3), [
    "V8 slow paths (calls into V8's runtime from JavaScript), top 3:",
    '  none',
    'where the thread was (leaf frames), top 3:',
  ]);
});
