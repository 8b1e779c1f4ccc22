/**
 * The host-path pair: the runtime and hono-echo loaded AT THE SAME TIME, each by its own load generator at
 * the same offered rate, in rounds. Main-thread CPU per served call (the servers' own schedstat counters)
 * is compared within each round, so the shared machine's noise weighs on both alike; runs minutes apart,
 * as the sweep's are, differ by more than the gap being measured. The generators swap servers every round.
 */
import type { LoadResult } from '../loadgen.ts';
import { mainThreadUsPerCall, median } from './figures.ts';
import type { Child } from './processes.ts';
import type { PeerSession } from './session.ts';

export interface HostPairOptions {
  fn: string;
  ratePerSec: number;
  rounds: number;
  /** Each round's unmeasured lead-in, then its measured part, then the wait for the last replies. */
  leadInMs: number;
  durationMs: number;
  drainMs: number;
  seed: number;
}

export interface HostPairRound {
  /** Main-thread CPU per served (200) call, us; null where a server does not report it. */
  runtimeUs: number | null;
  echoUs: number | null;
  ratio: number | null;
  /** The runtime's served calls over its batches in the round. */
  runtimeMeanBatch: number | null;
  runtimeServed: number;
  echoServed: number;
  /** Calls answered with anything but 200 (none are expected below capacity). */
  runtimeOther: number;
  echoOther: number;
}

export interface HostPairResult {
  runtime: string;
  echo: string;
  fn: string;
  ratePerSec: number;
  rounds: HostPairRound[];
  /** Medians over the rounds. */
  runtimeUs: number | null;
  echoUs: number | null;
  ratio: number | null;
}

const served = (r: LoadResult) => r.status.filter((s) => s === 200).length;
const other = (r: LoadResult) => r.status.filter((s) => s > 0 && s !== 200).length;
/** The median of the finite values; null without any. */
const medianOf = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? median(v) : null;
};

/** Runs `o.rounds` rounds of simultaneous load on `runtime` and `echo`, one generator each. */
export async function measureHostPair(
  runtime: PeerSession,
  echo: PeerSession,
  generators: readonly [Child, Child],
  o: HostPairOptions,
): Promise<HostPairResult> {
  const rounds: HostPairRound[] = [];
  for (let i = 0; i < o.rounds; i++) {
    const gens = i % 2 === 0 ? generators : ([generators[1], generators[0]] as const);
    const both = async (durationMs: number, seed: number) => {
      const job = (s: PeerSession) =>
        s.openJob({ streams: [{ fn: o.fn, weight: 1 }], ratePerSec: o.ratePerSec, seed, leadInMs: 0, durationMs, drainMs: o.drainMs });
      const timeout = durationMs + o.drainMs + 60_000;
      return Promise.all([
        gens[0].ask<{ result: LoadResult }>({ type: 'job', job: job(runtime) }, 'result', timeout),
        gens[1].ask<{ result: LoadResult }>({ type: 'job', job: job(echo) }, 'result', timeout),
      ]);
    };
    await both(o.leadInMs, o.seed + 2 * i);
    const before = await Promise.all([runtime.snapshot(), echo.snapshot()]);
    const [rt, ec] = await both(o.durationMs, o.seed + 2 * i + 1);
    const after = await Promise.all([runtime.snapshot(), echo.snapshot()]);
    const runtimeServed = served(rt.result);
    const echoServed = served(ec.result);
    const runtimeUs = mainThreadUsPerCall(before[0], after[0], runtimeServed);
    const echoUs = mainThreadUsPerCall(before[1], after[1], echoServed);
    const batches = after[0].batches === null || before[0].batches === null ? null : after[0].batches - before[0].batches;
    rounds.push({
      runtimeUs,
      echoUs,
      ratio: runtimeUs === null || echoUs === null ? null : runtimeUs / echoUs,
      runtimeMeanBatch: batches ? runtimeServed / batches : null,
      runtimeServed,
      echoServed,
      runtimeOther: other(rt.result),
      echoOther: other(ec.result),
    });
  }
  return {
    runtime: runtime.def.name,
    echo: echo.def.name,
    fn: o.fn,
    ratePerSec: o.ratePerSec,
    rounds,
    runtimeUs: medianOf(rounds.map((r) => r.runtimeUs)),
    echoUs: medianOf(rounds.map((r) => r.echoUs)),
    ratio: medianOf(rounds.map((r) => r.ratio)),
  };
}
