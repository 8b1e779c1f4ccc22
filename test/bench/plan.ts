/**
 * What the benchmark runs: the peers, in order, and the scenarios with their loads. Every rate is a
 * fraction of a capacity C measured at the start on this machine: the open-loop knee of the greedy
 * runtime (the highest rate at which it still keeps 95% of calls within the SLO; harness/capacity.ts), so
 * the same plan adapts to a faster or slower host.
 */
import type { PolicyName } from 'edgebatch';

export interface PeerDef {
  name: string;
  /** One line for the report. */
  what: string;
  kind: 'plain' | 'runtime';
  /** For plain peers: the script under test/bench/peers/. */
  script?: string;
  policy?: PolicyName;
  /**
   * A peer that does no inference (hono-echo: the HTTP limit of the machine). It runs only the capacity
   * search and the host-path runs, and is left out of goodput and ratio tables.
   */
  echo?: boolean;
}

/**
 * Greedy goes first: its knee search measures the capacity the rates are scaled from, and its runs the
 * batch size the fixed-delay peer is tuned to. hono-echo goes last: it needs C for its host-path runs.
 */
export const PEERS: PeerDef[] = [
  { name: 'greedy', kind: 'runtime', policy: 'greedy', what: 'edgebatch, policy greedy: a free lane takes everything waiting (seed 004)' },
  { name: 'slo', kind: 'runtime', policy: 'slo', what: 'edgebatch, policy slo (ours): hold from the formula, never past a deadline' },
  {
    name: 'fixed-delay',
    kind: 'runtime',
    policy: 'fixed-delay',
    what: "edgebatch, policy fixed-delay: Triton's dynamic batcher, tuned as its docs advise",
  },
  {
    name: 'dataloader',
    kind: 'plain',
    script: 'dataloader.ts',
    what: 'Hono + DataLoader: what reaches load() within one tick is one session.run, main thread',
  },
  { name: 'naive', kind: 'plain', script: 'naive.ts', what: 'Hono + one session.run per request on the main thread' },
  {
    name: 'hono-echo',
    kind: 'plain',
    script: 'hono-echo.ts',
    echo: true,
    what: 'bare Hono on @hono/node-server: c.req.json() and a small JSON reply, no inference (the HTTP limit)',
  },
];

/** The peer whose knee is the capacity C. */
export const CAPACITY_PEER = 'greedy';

/**
 * The models benchmarked, the function each one's single-function scenarios (and its knee search) call,
 * and the closed-loop cross-check: the same model through its function with the loosest SLO (so admission
 * control does not shed the probe's standing queue), with `closedConcurrency` requests always in flight.
 */
export const MODELS = [
  { model: 'mlp', fn: 'mlp-classify', calibrationFn: 'mlp-scores', closedConcurrency: 32 },
  { model: 'ocr-cls', fn: 'text-direction', calibrationFn: 'needs-rotation', closedConcurrency: 8 },
] as const;

/** Every function a peer serves. */
export const FUNCTIONS = ['mlp-classify', 'mlp-scores', 'text-direction', 'needs-rotation'];

/** Open-loop knee search (harness/capacity.ts): short runs, up by `step` until one misses, then bisection. */
export interface KneeSearch {
  /** A run keeps the SLO when at least this share of its calls is within it. */
  attainment: number;
  /** Rate of the first probe, as a factor of the starting guess (closed-loop figure, or C for hono-echo). */
  startFactor: number;
  step: number;
  maxProbes: number;
  /** Stop once the highest good rate and the lowest bad one are within this ratio. */
  tolerance: number;
  /** Run a rate that missed once more; it counts as missed only if both runs miss. */
  confirmMisses: boolean;
  leadInMs: number;
  durationMs: number;
  drainMs: number;
}

export interface Plan {
  name: 'quick' | 'full';
  ceiling: { msPerSize: number; msAtBest: number };
  /** Open-loop warm-up of each fresh server (both models), outside the figures. */
  warmUp: { durationMs: number; mlpPerSec: number; ocrPerSec: number };
  /** The knee search that sets C (on CAPACITY_PEER), and hono-echo's (started at `echoStartFactor` x C(mlp)). */
  knee: KneeSearch;
  echoKnee: KneeSearch;
  /** Closed-loop throughput of each model on these peers, a cross-check reported beside C (not used for rates). */
  closedLoopPeers: string[];
  calibrationMs: number;
  /** Each open-loop run: lead-in (sent, not counted), measured schedule, wait for the last replies. */
  leadInMs: number;
  durationMs: number;
  drainMs: number;
  /** Pause between runs, so one run's backlog and live rate do not bleed into the next. */
  pauseMs: number;
  /** Longest wait for a server to go idle after a run before it is restarted. */
  idleTimeoutMs: number;
  /**
   * Before each run, wait up to `perRunMs` (and `totalMs` over the whole bench) for other processes on the
   * machine to use under 0.25 cores; a run that starts anyway carries a note.
   */
  quietWait: { perRunMs: number; totalMs: number };
  /** Rate sweep, fractions of C; 1.0 is each peer's capacity run. The fixed-delay peer is tuned at `targetFraction`. */
  sweep: number[];
  targetFraction: number;
  /** Seed 003's burst: the rate doubled for 300 ms, from a base fraction of C. */
  burst: { baseFraction: number; atMs: number; lengthMs: number; factor: number; durationMs: number; models: string[] };
  /** mlp-classify (50 ms) + mlp-scores (200 ms), half each, at these fractions of C(mlp). */
  twoSlo: number[];
  /** mlp + ocr-cls at once, each at half of this fraction of its own C (the device shared). */
  twoModels: number[];
  /**
   * Sustained overload on mlp-classify: `factor` x C(mlp) for `durationMs`, then at once a trickle of
   * `trickle.ratePerSec` for `trickle.durationMs` to see how the server recovers. Runtime peers named here.
   */
  overload: { factor: number; durationMs: number; drainMs: number; trickle: { ratePerSec: number; durationMs: number }; peers: string[] };
  /** hono-echo's host-path runs: each model's bodies at these fractions of its C (same schedule as the sweep's). */
  hostFractions: number[];
  /**
   * The host-path pair (harness/host-pair.ts): the default runtime (`slo`) and hono-echo loaded at the same
   * time on mlp-classify, each at `fraction` x C(mlp) from its own generator, in `rounds` rounds.
   */
  hostPair: { fraction: number; rounds: number; leadInMs: number; durationMs: number; drainMs: number };
}

const FULL_KNEE = {
  attainment: 0.95,
  startFactor: 1,
  step: 1.5,
  maxProbes: 7,
  tolerance: 1.05,
  confirmMisses: true,
  leadInMs: 1000,
  durationMs: 2000,
  drainMs: 2000,
};

export const FULL: Plan = {
  name: 'full',
  ceiling: { msPerSize: 300, msAtBest: 1500 },
  warmUp: { durationMs: 3000, mlpPerSec: 150, ocrPerSec: 30 },
  knee: FULL_KNEE,
  // hono-echo's knee lies higher: start further up, with larger steps.
  echoKnee: { ...FULL_KNEE, startFactor: 2, step: 1.6 },
  closedLoopPeers: ['greedy', 'naive'],
  calibrationMs: 3000,
  leadInMs: 1000,
  durationMs: 4000,
  drainMs: 3000,
  pauseMs: 500,
  idleTimeoutMs: 30000,
  quietWait: { perRunMs: 10000, totalMs: 60000 },
  sweep: [0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2, 3],
  targetFraction: 0.6,
  burst: { baseFraction: 0.5, atMs: 2000, lengthMs: 300, factor: 2, durationMs: 4500, models: ['mlp', 'ocr-cls'] },
  twoSlo: [0.5, 0.9],
  twoModels: [0.5, 0.9],
  overload: {
    factor: 3,
    durationMs: 30000,
    drainMs: 3000,
    trickle: { ratePerSec: 50, durationMs: 3000 },
    peers: ['greedy', 'slo', 'fixed-delay'],
  },
  hostFractions: [1.0],
  hostPair: { fraction: 0.3, rounds: 5, leadInMs: 1000, durationMs: 4000, drainMs: 2000 },
};

export const QUICK: Plan = {
  name: 'quick',
  ceiling: { msPerSize: 60, msAtBest: 300 },
  warmUp: { durationMs: 1000, mlpPerSec: 150, ocrPerSec: 30 },
  knee: {
    attainment: 0.95,
    startFactor: 1,
    step: 1.5,
    maxProbes: 4,
    tolerance: 1.1,
    confirmMisses: false,
    leadInMs: 300,
    durationMs: 800,
    drainMs: 1000,
  },
  echoKnee: {
    attainment: 0.95,
    startFactor: 2,
    step: 1.6,
    maxProbes: 4,
    tolerance: 1.15,
    confirmMisses: false,
    leadInMs: 300,
    durationMs: 800,
    drainMs: 1000,
  },
  closedLoopPeers: ['greedy'],
  calibrationMs: 1000,
  leadInMs: 300,
  durationMs: 1000,
  drainMs: 1500,
  pauseMs: 200,
  idleTimeoutMs: 8000,
  quietWait: { perRunMs: 0, totalMs: 0 },
  sweep: [0.3, 1.0, 3.0],
  targetFraction: 0.6,
  burst: { baseFraction: 0.5, atMs: 400, lengthMs: 300, factor: 2, durationMs: 1200, models: ['mlp'] },
  twoSlo: [0.6],
  twoModels: [0.6],
  overload: { factor: 3, durationMs: 3000, drainMs: 1500, trickle: { ratePerSec: 50, durationMs: 2000 }, peers: ['greedy', 'slo'] },
  hostFractions: [1.0],
  hostPair: { fraction: 0.3, rounds: 3, leadInMs: 500, durationMs: 2000, drainMs: 1000 },
};
