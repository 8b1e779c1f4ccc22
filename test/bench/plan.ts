/**
 * What the benchmark runs: the peers, in order, and the scenarios with their loads. Every rate is a
 * fraction of a capacity C measured at the start on this machine (the most replies per second the greedy
 * runtime or the naive server gave with requests always waiting, whichever is more), so the same plan
 * adapts to a faster or slower host.
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
}

/**
 * Greedy goes first: its runs measure the capacity the rates are scaled from and the batch size the
 * fixed-delay peer is tuned to.
 */
export const PEERS: PeerDef[] = [
  { name: 'greedy', kind: 'runtime', policy: 'greedy', what: 'edgebatch, policy greedy: a free lane takes everything waiting (seed 004)' },
  { name: 'slo', kind: 'runtime', policy: 'slo', what: 'edgebatch, policy slo (ours): hold from the formula, never past a deadline' },
  { name: 'fixed-delay', kind: 'runtime', policy: 'fixed-delay', what: "edgebatch, policy fixed-delay: Triton's dynamic batcher, tuned as its docs advise" },
  { name: 'dataloader', kind: 'plain', script: 'dataloader.ts', what: 'Hono + DataLoader: what reaches load() within one tick is one session.run, main thread' },
  { name: 'naive', kind: 'plain', script: 'naive.ts', what: 'Hono + one session.run per request on the main thread' },
];

/**
 * The models benchmarked, the function each one's single-function scenarios call, and how its capacity is
 * measured: the same model through its function with the loosest SLO (so admission control does not shed
 * the probe's standing queue), with `closedConcurrency` requests always in flight.
 */
export const MODELS = [
  { model: 'mlp', fn: 'mlp-classify', calibrationFn: 'mlp-scores', closedConcurrency: 32 },
  { model: 'ocr-cls', fn: 'text-direction', calibrationFn: 'needs-rotation', closedConcurrency: 8 },
] as const;

/** Every function a peer serves. */
export const FUNCTIONS = ['mlp-classify', 'mlp-scores', 'text-direction', 'needs-rotation'];

export interface Plan {
  name: 'quick' | 'full';
  ceiling: { msPerSize: number; msAtBest: number };
  /** Open-loop warm-up of each fresh server (both models), outside the figures. */
  warmUp: { durationMs: number; mlpPerSec: number; ocrPerSec: number };
  /**
   * Closed-loop probe of each model on these peers (the first must come first in PEERS); the best
   * throughput is the capacity C of the model.
   */
  calibrationPeers: string[];
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
  /** Rate sweep, fractions of C. The fixed-delay peer is tuned at `targetFraction` (one of them). */
  sweep: number[];
  targetFraction: number;
  /** Seed 003's burst: the rate doubled for 300 ms, from a base fraction of C. */
  burst: { baseFraction: number; atMs: number; lengthMs: number; factor: number; durationMs: number; models: string[] };
  /** mlp-classify (50 ms) + mlp-scores (200 ms), half each, at these fractions of C(mlp). */
  twoSlo: number[];
  /** mlp + ocr-cls at once, each at half of this fraction of its own C (the device shared). */
  twoModels: number[];
}

export const FULL: Plan = {
  name: 'full',
  ceiling: { msPerSize: 300, msAtBest: 1500 },
  warmUp: { durationMs: 3000, mlpPerSec: 150, ocrPerSec: 30 },
  calibrationPeers: ['greedy', 'naive'],
  calibrationMs: 3000,
  leadInMs: 1000,
  durationMs: 4000,
  drainMs: 3000,
  pauseMs: 500,
  idleTimeoutMs: 30000,
  quietWait: { perRunMs: 10000, totalMs: 60000 },
  sweep: [0.2, 0.4, 0.6, 0.8, 1.0, 1.2],
  targetFraction: 0.6,
  burst: { baseFraction: 0.5, atMs: 2000, lengthMs: 300, factor: 2, durationMs: 4500, models: ['mlp', 'ocr-cls'] },
  twoSlo: [0.5, 0.9],
  twoModels: [0.5, 0.9],
};

export const QUICK: Plan = {
  name: 'quick',
  ceiling: { msPerSize: 60, msAtBest: 300 },
  warmUp: { durationMs: 1000, mlpPerSec: 150, ocrPerSec: 30 },
  calibrationPeers: ['greedy', 'naive'],
  calibrationMs: 1000,
  leadInMs: 300,
  durationMs: 1000,
  drainMs: 1500,
  pauseMs: 200,
  idleTimeoutMs: 8000,
  quietWait: { perRunMs: 0, totalMs: 0 },
  sweep: [0.3, 1.1],
  targetFraction: 0.6,
  burst: { baseFraction: 0.5, atMs: 400, lengthMs: 300, factor: 2, durationMs: 1200, models: ['mlp'] },
  twoSlo: [0.6],
  twoModels: [0.6],
};
