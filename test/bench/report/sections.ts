/**
 * The results.md sections on overload and the host path, and the console summary of the same figures:
 * goodput at 3C over goodput at C, every call of the overload accounted for, recovery, the cost of a shed,
 * main-thread CPU per call against hono-echo's, host stages, the fit under load.
 */
import { fitRows, hostCpuRows, overloadRows, shedCosts, stageRows, sweepTopRatios } from './derived.ts';
import type { BenchData } from './report.ts';
import { n, pct } from './format.ts';
import type { HostPairResult } from '../harness/host-pair.ts';

export function capacitySection(data: BenchData): string[] {
  const L: string[] = ['## Ceiling and capacity', ''];
  const cross = (model: string) => (data.calibration[model] ?? []).map((p) => `${p.peer} ${p.perSec.toFixed(0)}`).join(', ') || '-';
  const knees = data.knees ?? [];
  L.push(
    '| model | ceiling items/s (bare session.run) | at batch | fitted alpha ms/item | tau0 ms | capacity C req/s | knee: first missed at | closed-loop cross-check (req/s) | C / ceiling |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  );
  for (const c of data.ceilings) {
    const cap = data.capacity[c.model];
    const k = knees.find((x) => x.model === c.model && !data.peers.find((p) => p.name === x.peer)?.echo);
    L.push(
      `| ${c.model} | ${c.itemsPerSec.toFixed(0)} | ${c.bestBatch} | ${n(c.alphaMs, 3)} | ${n(c.tau0Ms, 3)} | ${n(cap, 0)}${k && !k.found ? ' (no probe kept the SLO)' : ''} | ${k ? n(k.missedAtPerSec, 0) : '-'} | ${cross(c.model)} | ${n(cap / c.itemsPerSec, 3)} |`,
    );
  }
  const probe = Object.values(data.calibration)[0]?.[0];
  L.push('');
  if (!knees.length) {
    // results.json from before the knee search: C was the best closed-loop probe.
    L.push(
      `C is the best of the closed-loop probes${probe ? ` (${probe.concurrency} or fewer requests always in flight, on the model's loosest-SLO function)` : ''}.`,
      '',
    );
    return L;
  }
  L.push(
    `C is the open-loop knee of the ${knees[0].peer} runtime: the highest rate whose short open-loop run kept at least ${pct(data.plan.knee?.attainment)} of calls within the SLO (harness/capacity.ts), on the function each sweep calls. Every rate in the plan is a fraction of it.` +
      (probe
        ? ` The closed-loop figures (${probe.concurrency} or fewer requests always in flight on the model's loosest-SLO function; a 503 pauses its slot 10 ms) are the former definition of C, kept as a cross-check.`
        : ''),
  );
  L.push('', 'Knee probes (rate offered: SLO attainment, p99):', '');
  for (const k of knees)
    L.push(
      `- ${k.peer}, ${k.fn}: ${k.probes.map((p) => `${p.ratePerSec.toFixed(0)}/s: ${pct(p.sloAttainment)}, ${n(p.p99Ms)} ms${p.kept ? '' : ' (missed)'}`).join('; ')} => ${n(k.capacityPerSec, 0)}/s`,
    );
  L.push('');
  return L;
}

export function overloadSection(data: BenchData): string[] {
  const rows = overloadRows(data);
  const L: string[] = ['## Overload', ''];
  if (rows.length) {
    const o = data.plan.overload;
    L.push(
      `mlp-classify (SLO 50 ms) at ${o.factor}x C for ${o.durationMs / 1000} s, then at once a trickle of ${o.trickle.ratePerSec}/s for ${o.trickle.durationMs / 1000} s. Lost = no reply by the end of the drain, or the connection failed. Recovery: the trickle's figures (p50/p99 over its 200 replies and timeouts, 503s apart; a trickle call waits for one of the generator's 1024 connections while the server holds them all, and that wait counts, as for every open-loop call); "first within SLO" = scheduled send of the first trickle call answered 200 within the SLO, after the overload's end; "all within SLO from" = from then on every trickle call was.`,
      '',
    );
    L.push(
      '| peer | offered/s | goodput/s | goodput at C /s | at 3C / at C | sent | 200 | 503 | other | lost | loop p99 ms | trickle p50 ms | trickle p99 ms | trickle att. | trickle 503 / lost | first within SLO ms | all within SLO from ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of rows) {
      const v = r.recovery;
      L.push(
        `| ${r.peer}${r.noted ? ' (!)' : ''} | ${n(r.offeredPerSec, 0)} | ${n(r.goodputPerSec, 0)} | ${n(r.goodputAtCPerSec, 0)} | **${n(r.ratio, 2)}** | ${r.sent} | ${r.ok} | ${r.shed} | ${r.other} | ${r.lost} | ${n(r.eventLoopP99Ms)} | ${n(v?.p50Ms)} | ${n(v?.p99Ms)} | ${pct(v?.sloAttainment)} | ${v ? `${v.shed} / ${v.lost}` : '-'} | ${n(v?.firstWithinSloMs, 0)} | ${n(v?.allWithinSloFromMs, 0)} |`,
      );
    }
    L.push('');
    const echoKnee = (data.knees ?? []).find((k) => k.peer === data.peers.find((p) => p.echo)?.name);
    // Past what a bare Hono app can answer, the one event loop cannot even refuse every call: goodput then
    // falls for any server built on it, however cheap its refusals.
    if (echoKnee?.found)
      L.push(
        `The overload offers ${n(rows[0].offeredPerSec, 0)}/s, ${n(rows[0].offeredPerSec / echoKnee.capacityPerSec, 2)} x hono-echo's knee (${n(echoKnee.capacityPerSec, 0)}/s): above 1, one event loop on this machine cannot answer every call even with nothing behind it.`,
        '',
      );
  }
  const top = sweepTopRatios(data);
  if (top.length) {
    L.push(
      'Sweep: goodput at the highest fraction of C over goodput at C (same peer, same bench):',
      '',
      '| model | peer | fraction | goodput/s | at C /s | ratio |',
      '| --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const t of top)
      L.push(`| ${t.model} | ${t.peer} | ${t.fraction}C | ${n(t.goodputPerSec, 0)} | ${n(t.goodputAtCPerSec, 0)} | ${n(t.ratio, 2)} |`);
    L.push('');
  }
  const costs = shedCosts(data);
  if (costs.length) {
    L.push('### The cost of a shed', '');
    L.push(
      'Main-thread CPU per served call from the capacity run (mlp 1.00C: its main-thread CPU over its 200 replies), and per 503 from the overload run: (its main-thread CPU - its 200 replies x the served cost) / its 503s; both over the whole job, lead-in and trickle included. Where the capacity run shed 5% of its calls or more ("solved"), both costs come from the two runs together (main-thread CPU = 200s x served cost + 503s x shed cost, for each run), which gives the same when it shed nothing. Both assume a served call costs the same at C and at 3C, while main-thread CPU per call falls as the rate grows (per-second costs spread thinner, larger batches): where the overload run shed few calls the figure is mostly noise, (!) where it came out negative.',
      '',
    );
    L.push(
      '| peer | served us/call | shed us/503 | shed / served | how | 200s / 503s at C | 200s / 503s in overload |',
      '| --- | ---: | ---: | ---: | --- | ---: | ---: |',
    );
    for (const c of costs)
      L.push(
        `| ${c.peer} | ${n(c.servedUs, 0)} | ${n(c.shedUs, 0)}${c.shedUs !== null && c.shedUs < 0 ? ' (!)' : ''} | ${n(c.ratio, 2)} | ${c.method ?? '-'} | ${c.capacityServed} / ${c.capacityShed} | ${c.overloadServed} / ${c.overloadShed} |`,
      );
    L.push('');
  }
  return L;
}

export function hostSection(data: BenchData): string[] {
  const L: string[] = ['## Host path', ''];
  const echo = data.peers.find((p) => p.echo);
  const echoKnee = (data.knees ?? []).find((k) => k.peer === echo?.name);
  if (echoKnee)
    L.push(
      `hono-echo's knee (the HTTP limit of this machine, ${echoKnee.fn} bodies, replies within ${data.functions.find((f) => f.name === echoKnee.fn)?.sloMs ?? '?'} ms): **${n(echoKnee.capacityPerSec, 0)}/s**${echoKnee.found ? '' : ' (no probe kept the SLO)'}, first missed at ${n(echoKnee.missedAtPerSec, 0)}/s; against C(mlp) = ${n(data.capacity.mlp, 0)}/s.`,
      '',
    );
  L.push(
    "Main-thread CPU per call: the server's main thread alone (runtime: `edgebatch_main_thread_cpu_seconds_total`; plain peers: /proc/thread-self/schedstat in GET /stats), over every call answered in the job, at each peer's capacity run; hono-echo on the same schedule. Process CPU (all threads: lanes, onnxruntime) per 200 reply beside it. Ratio = peer / hono-echo.",
    '',
  );
  L.push(
    '| model | peer | offered/s | main-thread us/call | process us/reply | hono-echo us/call | ratio |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of hostCpuRows(data))
    L.push(
      `| ${r.model} | ${r.peer} | ${n(r.offeredPerSec, 0)} | ${n(r.mainUsPerCall, 0)} | ${n(r.processUsPerReply, 0)} | ${n(r.echoUsPerCall, 0)} | **${n(r.ratio, 2)}** |`,
    );
  const pair = data.hostPair;
  if (pair) {
    L.push(
      '',
      `### ${pair.runtime} and ${pair.echo} loaded together`,
      '',
      `The runtime as shipped (policy ${pair.runtime}) and ${pair.echo} at the same time, ${pair.fn} at ${n(pair.ratePerSec, 0)}/s each (${data.plan.hostPair.fraction} x C(mlp), below both knees), each from its own load generator (they swap every round): main-thread CPU per served call, compared within each round, so that the machine's other load weighs on both alike. **Median ratio ${n(pair.ratio, 2)}** (${n(pair.runtimeUs, 0)} us against ${n(pair.echoUs, 0)} us).`,
      '',
      `| round | ${pair.runtime} us/call | ${pair.echo} us/call | ratio | ${pair.runtime} mean batch | ${pair.runtime} 200 / other | ${pair.echo} 200 / other |`,
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...pair.rounds.map(
        (r, i) =>
          `| ${i + 1} | ${n(r.runtimeUs, 0)} | ${n(r.echoUs, 0)} | ${n(r.ratio, 2)} | ${n(r.runtimeMeanBatch, 1)} | ${r.runtimeServed} / ${r.runtimeOther} | ${r.echoServed} / ${r.echoOther} |`,
      ),
    );
  }
  const { stages, rows } = stageRows(data);
  L.push('', '### Host stages at capacity (us per call)', '');
  L.push(
    'From `edgebatch_host_stage_seconds_total{stage}`, deltas over the capacity run, over every call answered ("-": not exported), beside the main thread\'s CPU per call. A stage the runtime times across an await (an async `pre`) counts elapsed time, overlapping other calls, and can exceed the main thread\'s total.',
    '',
  );
  L.push(
    `| model | peer | ${stages.join(' | ')} | sum | main thread |`,
    `| --- | --- | ${stages.map(() => '---:').join(' | ')} | ---: | ---: |`,
  );
  for (const r of rows) {
    const sum = r.perStage ? Object.values(r.perStage).reduce((a, v) => a + v, 0) : null;
    L.push(
      `| ${r.model} | ${r.peer} | ${stages.map((s) => n(r.perStage?.[s], 0)).join(' | ')} | ${n(sum, 0)} | ${n(r.mainUsPerCall, 0)} |`,
    );
  }
  L.push('');
  return L;
}

export function fitSection(data: BenchData): string[] {
  const rows = fitRows(data);
  if (!rows.length) return [];
  const L: string[] = ['## The fit under load', ''];
  L.push(
    "The runtime's fitted batch cost (GET /functions/:name `fit`, mean of three samples in the run) against the ceiling's fit through a bare session.run loop, and the formula's max rate within the SLO (`prediction.maxRatePerSec`) against the measured capacity C.",
    '',
  );
  L.push(
    '| peer | scenario | load | model | alpha ms | ceiling alpha | tau0 ms | ceiling tau0 | r2 | quality | max rate /s | C /s | max rate / C |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  );
  for (const r of rows)
    L.push(
      `| ${r.peer} | ${r.scenario} | ${r.label} | ${r.model} | ${n(r.alphaMs, 3)} | ${n(r.ceilingAlphaMs, 3)} | ${n(r.tau0Ms, 3)} | ${n(r.ceilingTau0Ms, 3)} | ${n(r.r2, 2)} | ${r.quality ?? '-'} | ${n(r.maxRatePerSec, 0)} | ${n(r.capacityPerSec, 0)} | ${n(r.maxRateOverC, 2)} |`,
    );
  L.push('');
  return L;
}

/** The host-path pair in one line: who, at what rate, us per call each, the median ratio and each round's. */
export function hostPairLine(pair: HostPairResult): string {
  return `${pair.runtime} and ${pair.echo} loaded together at ${pair.ratePerSec.toFixed(0)}/s each: ${n(pair.runtimeUs, 0)} us vs ${n(pair.echoUs, 0)} us, median ratio ${n(pair.ratio, 2)} over ${pair.rounds.length} rounds (${pair.rounds.map((r) => n(r.ratio, 2)).join(', ')})`;
}

/** The summary printed at the end of a bench: the same figures as above, one line each. */
export function consoleSummary(data: BenchData): string[] {
  const L: string[] = [];
  const echo = data.peers.find((p) => p.echo);
  const echoKnee = (data.knees ?? []).find((k) => k.peer === echo?.name);
  L.push(
    `capacity C: ${Object.entries(data.capacity)
      .map(([m, c]) => `${m} ${c.toFixed(0)}/s`)
      .join(', ')} (open-loop knee)${echoKnee ? `; hono-echo knee ${echoKnee.capacityPerSec.toFixed(0)}/s` : ''}`,
  );
  for (const r of hostCpuRows(data))
    L.push(
      `main-thread CPU/call at C(${r.model}) ${r.offeredPerSec.toFixed(0)}/s: ${r.peer} ${n(r.mainUsPerCall, 0)} us${r.peer === echo?.name ? '' : `, hono-echo ${n(r.echoUsPerCall, 0)} us, ratio ${n(r.ratio, 2)}`}`,
    );
  if (data.hostPair) L.push(`main-thread CPU/call, ${hostPairLine(data.hostPair)}`);
  for (const r of overloadRows(data)) {
    const v = r.recovery;
    const overEcho = echoKnee?.found ? `, ${n(r.offeredPerSec / echoKnee.capacityPerSec, 2)} x hono-echo's knee` : '';
    L.push(
      `overload ${r.peer} ${r.label}: offered ${n(r.offeredPerSec, 0)}/s${overEcho}; goodput ${n(r.goodputPerSec, 0)}/s vs ${n(r.goodputAtCPerSec, 0)}/s at C = ${n(r.ratio, 2)}; 200 ${r.ok}, 503 ${r.shed}, other ${r.other}, lost ${r.lost}; loop p99 ${n(r.eventLoopP99Ms)} ms; trickle p50 ${n(v?.p50Ms)} p99 ${n(v?.p99Ms)} ms, att. ${pct(v?.sloAttainment)}, 503 ${v?.shed ?? '-'}, first within SLO ${n(v?.firstWithinSloMs, 0)} ms after`,
    );
  }
  for (const t of sweepTopRatios(data)) L.push(`sweep ${t.model} ${t.peer}: goodput at ${t.fraction}C / at C = ${n(t.ratio, 2)}`);
  for (const c of shedCosts(data))
    L.push(
      `shed cost ${c.peer}: served ${n(c.servedUs, 0)} us/call, shed ${n(c.shedUs, 0)} us/503, ratio ${n(c.ratio, 2)} (${c.method ?? 'no figure'})`,
    );
  const { rows } = stageRows(data);
  for (const r of rows)
    L.push(
      `host stages ${r.peer} ${r.model} at C (us/call): ${
        r.perStage
          ? Object.entries(r.perStage)
              .map(([s, v]) => `${s} ${v.toFixed(0)}`)
              .join(', ')
          : '-'
      }`,
    );
  return L;
}
