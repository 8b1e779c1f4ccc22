import { parseArgs } from 'node:util';
import { defaults } from '../defaults.ts';
import {
  type BatchCost,
  type PowerModel,
  expectedBatchSize,
  holdForObjective,
  joulesPerInference,
  maxRateWithin,
  meanLatencyBound,
  sloFeasibility,
} from '../scheduler/formula.ts';

export const planUsage = `edgebatch plan --alpha-ms A --tau0-ms T --slo-ms S [--rate R] [--busy-watts W --idle-watts W] [--max-batch B] [--json]

What the queueing formula (README.md, "The scheduler") predicts for one model on one lane, as JSON.

  --alpha-ms A     device time each item adds to a batch, ms (>= 0)
  --tau0-ms T      device time every batch costs whatever its size, ms (>= 0)
  --slo-ms S       the mean-latency objective S, ms (> 0): a bound on the MEAN latency, not a
                   function's SLO. The runtime aims the mean at meanObjectiveFraction (${defaults.scheduler.meanObjectiveFraction}) of the
                   tightest SLO on a model: for functions with a 100 ms SLO pass --slo-ms 50.
  --rate R         arrival rate, requests per second (>= 0); without it the figures that depend on
                   the rate are null
  --busy-watts W   the lane's power while computing, watts (>= 0; with --idle-watts; default ${defaults.energy.busyWatts})
  --idle-watts W   the lane's power while idle, watts (>= 0; with --busy-watts; default ${defaults.energy.idleWatts})
  --max-batch B    the model's largest batch (whole number >= 1); the formula has no cap, so a plan
                   whose batches would outgrow it is flagged
  --json           accepted like every command's; the output is always JSON

Prints { input, rho, boundMsAtRate, maxRatePerSec, holdMs, expectedBatch, joulesPerInference, feasible,
reason, warnings }. Exit code 0 when a plan is printed (feasible or not), 2 on a bad or missing flag.
`;

/** The JSON `edgebatch plan` prints. Times in ms, rates per second, energy in joules. */
export interface Plan {
  readonly input: {
    readonly alphaMs: number;
    readonly tau0Ms: number;
    readonly sloMs: number;
    readonly ratePerSec: number | null;
    readonly busyWatts: number | null;
    readonly idleWatts: number | null;
    readonly maxBatch: number | null;
  };
  /** Load at the rate, `rate * alpha`; null without a rate. */
  readonly rho: number | null;
  /** The bound U on the mean latency at the rate (greedy batching); null without a rate or when unstable. */
  readonly boundMsAtRate: number | null;
  /** The largest rate with U <= S; null when unbounded (alpha = 0 and 3/2*tau0 <= S). */
  readonly maxRatePerSec: number | null;
  /** The hold h* that spends the slack S - U at the rate (what the `slo` policy holds); null without a rate. */
  readonly holdMs: number | null;
  /** Mean batch with that hold, at least 1 and at most --max-batch; null without a rate or when unstable. */
  readonly expectedBatch: number | null;
  /** From the power model and the formula (with the hold), not measured; null without power or rate. */
  readonly joulesPerInference: { readonly modelled: number } | null;
  readonly feasible: boolean;
  readonly reason: string;
  /** Caveats that do not make the plan infeasible. */
  readonly warnings: string[];
}

/** Where `plan` writes (the process's streams unless a test passes its own). */
export interface PlanIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: PlanIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

class FlagError extends Error {}

/** Six significant digits: enough for planning, short enough to read. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}

function fmt(x: number): string {
  return String(round(x));
}

function numberFlag(
  name: string,
  raw: string | undefined,
  opts: { required?: boolean; min: number; strictMin?: boolean; integer?: boolean; what: string },
): number | undefined {
  if (raw === undefined) {
    if (opts.required) throw new FlagError(`missing --${name} (${opts.what})`);
    return undefined;
  }
  const value = raw.trim() === '' ? NaN : Number(raw);
  const bound = opts.strictMin ? `> ${opts.min}` : `>= ${opts.min}`;
  const kind = opts.integer ? `a whole number ${bound}` : `a number ${bound}`;
  if (!Number.isFinite(value) || (opts.strictMin ? value <= opts.min : value < opts.min) || (opts.integer && !Number.isInteger(value))) {
    throw new FlagError(`--${name} must be ${kind} (${opts.what}), got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Reads the flags; throws a FlagError naming the flag when one is bad or missing. */
function readFlags(argv: string[]): { help: true } | { help: false; input: Plan['input'] } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'alpha-ms': { type: 'string' },
        'tau0-ms': { type: 'string' },
        'slo-ms': { type: 'string' },
        rate: { type: 'string' },
        'busy-watts': { type: 'string' },
        'idle-watts': { type: 'string' },
        'max-batch': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
      },
    }));
  } catch (err) {
    // parseArgs names the offending option or argument in its message.
    throw new FlagError((err as Error).message);
  }
  if (values.help) return { help: true };
  const str = (k: string) => values[k] as string | undefined;
  const alphaMs = numberFlag('alpha-ms', str('alpha-ms'), { required: true, min: 0, what: 'device ms per item' })!;
  const tau0Ms = numberFlag('tau0-ms', str('tau0-ms'), { required: true, min: 0, what: 'device ms per batch' })!;
  const sloMs = numberFlag('slo-ms', str('slo-ms'), { required: true, min: 0, strictMin: true, what: 'mean-latency objective, ms' })!;
  const rate = numberFlag('rate', str('rate'), { min: 0, what: 'requests per second' });
  let busy = numberFlag('busy-watts', str('busy-watts'), { min: 0, what: 'watts while computing' });
  let idle = numberFlag('idle-watts', str('idle-watts'), { min: 0, what: 'watts while idle' });
  if ((busy === undefined) !== (idle === undefined)) {
    throw new FlagError(
      busy === undefined
        ? 'missing --busy-watts (given --idle-watts; the power model needs both)'
        : 'missing --idle-watts (given --busy-watts; the power model needs both)',
    );
  }
  // Without figures, the same power model the runtime uses by default (energy in hono.config.ts).
  busy ??= defaults.energy.busyWatts;
  idle ??= defaults.energy.idleWatts;
  const maxBatch = numberFlag('max-batch', str('max-batch'), { min: 1, integer: true, what: 'largest batch' });
  return {
    help: false,
    input: {
      alphaMs,
      tau0Ms,
      sloMs,
      ratePerSec: rate ?? null,
      busyWatts: busy ?? null,
      idleWatts: idle ?? null,
      maxBatch: maxBatch ?? null,
    },
  };
}

/**
 * The plan for one model, from the formula alone (pure; `plan` prints it).
 *
 * @example
 * makePlan({ alphaMs: 0.2, tau0Ms: 20, sloMs: 50, ratePerSec: 750, busyWatts: 250, idleWatts: 50, maxBatch: null })
 * // boundMsAtRate 35.5141, holdMs 18.9431, maxRatePerSec 1714.45, feasible true, ...
 */
export function makePlan(input: Plan['input']): Plan {
  const cost: BatchCost = { alpha: input.alphaMs / 1000, tau0: input.tau0Ms / 1000 };
  const s = input.sloMs / 1000;
  const rate = input.ratePerSec;
  const cap = input.maxBatch;
  const power: PowerModel | undefined =
    input.busyWatts !== null && input.idleWatts !== null ? { busyWatts: input.busyWatts, idleWatts: input.idleWatts } : undefined;
  const warnings: string[] = [];

  const maxRate = maxRateWithin(cost, s);
  // Largest rate a lane sustains when no batch may exceed the cap: B items per tau(B).
  const capRate = cap === null ? Infinity : cap / (cost.alpha * cap + cost.tau0);
  if (cap !== null && maxRate > 0 && maxRate >= capRate) {
    const allowed = Number.isFinite(maxRate)
      ? `the ${fmt(maxRate)}/s the formula allows within S`
      : 'the unbounded rate the formula allows (alpha = 0)';
    warnings.push(
      `--max-batch ${cap} limits the lane to ${fmt(capRate)}/s (B/tau(B)), below ${allowed}; ` +
        'the formula assumes no cap, so near that rate its bound is optimistic',
    );
  }
  const zeroLoad = sloFeasibility(cost, s);

  let rho: number | null = null;
  let bound: number | null = null;
  let hold: number | null = null;
  let batch: number | null = null;
  let joules: number | null = null;
  let feasible: boolean;
  let reason: string;

  if (rate === null) {
    feasible = zeroLoad.feasible;
    reason = zeroLoad.feasible
      ? `S = ${fmt(input.sloMs)} ms can be met: the zero-load bound is ${fmt(1000 * zeroLoad.zeroLoadBound)} ms; ` +
        (Number.isFinite(maxRate)
          ? `rates up to ${fmt(maxRate)}/s keep the bound within S`
          : 'alpha = 0, so the bound does not grow with the rate')
      : zeroLoad.reason!;
  } else {
    rho = rate * cost.alpha;
    const stable = rho < 1 && rate < capRate;
    if (stable) {
      const u = meanLatencyBound(rate, cost);
      bound = 1000 * u;
      const h = holdForObjective(rate, cost, s);
      hold = 1000 * h;
      const b = Math.max(1, expectedBatchSize(rate, cost, h));
      batch = cap === null ? b : Math.min(cap, b);
      if (cap !== null && b > cap) {
        warnings.push(
          `the expected batch (${fmt(b)}) exceeds --max-batch ${cap}: batches will be cut at the cap, so the hold and energy figures are optimistic`,
        );
      }
      if (power) joules = joulesPerInference(rate, cost, power, h);
      if (!zeroLoad.feasible) {
        feasible = false;
        reason = zeroLoad.reason!;
      } else if (u <= s) {
        feasible = true;
        reason =
          `at ${fmt(rate)}/s the mean latency bound is ${fmt(bound)} ms, within S = ${fmt(input.sloMs)} ms; ` +
          (h > 0 ? `the slack allows a hold of ${fmt(hold)} ms after each batch` : 'no slack is left for a hold');
      } else {
        feasible = false;
        reason = `at ${fmt(rate)}/s the mean latency bound is ${fmt(bound)} ms, above S = ${fmt(input.sloMs)} ms; the largest rate within S is ${fmt(maxRate)}/s`;
      }
    } else {
      hold = 0;
      // Saturated: the lane computes all the time, full batches when capped; priced per completed item.
      if (power) joules = power.busyWatts * (cost.alpha + (cap === null ? 0 : cost.tau0 / cap));
      feasible = false;
      reason =
        rho >= 1
          ? `unstable at ${fmt(rate)}/s: rho = rate*alpha = ${fmt(rho)} >= 1 (one lane completes at most 1/alpha = ${fmt(1 / cost.alpha)}/s)`
          : `unstable at ${fmt(rate)}/s: with batches of at most ${cap} the lane completes at most ${fmt(capRate)}/s`;
    }
  }

  return {
    input,
    rho: rho === null ? null : round(rho),
    boundMsAtRate: bound === null ? null : round(bound),
    maxRatePerSec: Number.isFinite(maxRate) ? round(maxRate) : null,
    holdMs: hold === null ? null : round(hold),
    expectedBatch: batch === null ? null : round(batch),
    joulesPerInference: joules === null ? null : { modelled: round(joules) },
    feasible,
    reason,
    warnings,
  };
}

/**
 * `edgebatch plan ...`: prints the formula's plan for one model as JSON.
 *
 * @returns the exit code: 0 when a plan is printed (feasible or not) or for `--help`, 2 on a bad or missing flag
 *   (with a message naming the flag on stderr).
 */
export function plan(argv: string[], io: PlanIo = processIo): number {
  let flags: ReturnType<typeof readFlags>;
  try {
    flags = readFlags(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    io.err(`edgebatch plan: ${err.message}\n\n${planUsage}`);
    return 2;
  }
  if (flags.help) {
    io.out(planUsage);
    return 0;
  }
  io.out(`${JSON.stringify(makePlan(flags.input), null, 2)}\n`);
  return 0;
}
