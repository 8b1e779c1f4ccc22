/**
 * Seeded random numbers and open-loop arrival schedules, in milliseconds. The simulator and the benchmark
 * load generator share them, so a load is named by (shape, rate, duration, seed) and is the same on every
 * machine and every run.
 *
 * Every schedule is a sorted `number[]` of arrival times in ms from the start of the run (0), all in
 * `[0, durationMs)`. Rates are per SECOND, like the rest of the scheduler.
 */

/**
 * mulberry32: a small, fast 32-bit PRNG, plenty for simulation (not for anything secret).
 *
 * @param seed any number; only its low 32 bits matter, so seeds 1 and 2**32 + 1 give the same stream.
 * @returns a function that returns the next number, uniform in [0, 1), on each call.
 * @example
 * const rand = mulberry32(42);
 * rand(); // the same first value on every run
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Spreads a seed over all 32 bits (murmur3's finaliser, a bijection), so that nearby seeds (1, 2, 3, or a
 * replication counter) start {@link mulberry32} at unrelated points of its cycle. The schedules below seed
 * their stream with `mulberry32(scrambleSeed(seed))`.
 */
export function scrambleSeed(seed: number): number {
  let h = seed >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** An exponential draw with the given mean, from a uniform source (inverse transform; never Infinity). */
export function exponential(rand: () => number, mean: number): number {
  return -mean * Math.log(1 - rand());
}

/** A stretch of constant arrival rate: from `startMs` (inclusive) on, `ratePerSec` until the next one. */
export interface RateSegment {
  readonly startMs: number;
  readonly ratePerSec: number;
}

function checkNonNegative(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

function checkSeed(seed: number): void {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new TypeError(`seed must be a finite number, got ${String(seed)}`);
}

/**
 * A Poisson process whose rate is piecewise constant: the general form behind {@link poissonArrivals} and
 * {@link burstArrivals}, for any load shape (steps, ramps cut into steps, several bursts).
 *
 * Within a segment the gaps are exponential with mean `1000/ratePerSec` ms; at a segment boundary the
 * pending gap is dropped and a fresh one drawn at the new rate, which is exact because the exponential
 * has no memory. A segment with rate 0 has no arrivals.
 *
 * @param segments rate segments; the first applies from its `startMs` (before it, nothing arrives), each
 *   lasts until the next one starts. `startMs` must not decrease.
 * @param durationMs end of the schedule, ms (exclusive).
 * @param seed seed of the random stream (any number; its low 32 bits, scrambled, seed {@link mulberry32}).
 * @returns sorted arrival times, ms.
 */
export function piecewiseArrivals(segments: readonly RateSegment[], durationMs: number, seed: number): number[] {
  checkNonNegative('durationMs', durationMs);
  checkSeed(seed);
  segments.forEach((s, i) => {
    checkNonNegative(`segments[${i}].startMs`, s.startMs);
    checkNonNegative(`segments[${i}].ratePerSec`, s.ratePerSec);
    if (i > 0 && s.startMs < segments[i - 1].startMs) {
      throw new TypeError(`segments must be in time order: segments[${i}].startMs ${s.startMs} < ${segments[i - 1].startMs}`);
    }
  });
  const rand = mulberry32(scrambleSeed(seed));
  const out: number[] = [];
  for (let i = 0; i < segments.length; i++) {
    const { startMs, ratePerSec } = segments[i];
    const endMs = Math.min(durationMs, i + 1 < segments.length ? segments[i + 1].startMs : durationMs);
    if (ratePerSec === 0) continue;
    const meanGapMs = 1000 / ratePerSec;
    for (let t = startMs + exponential(rand, meanGapMs); t < endMs; t += exponential(rand, meanGapMs)) out.push(t);
  }
  return out;
}

/**
 * Open-loop Poisson arrivals at a constant rate.
 *
 * @param ratePerSec mean arrivals per second (>= 0).
 * @param durationMs length of the schedule, ms.
 * @param seed seed of the random stream (see {@link piecewiseArrivals}).
 * @returns sorted arrival times in [0, durationMs), ms; about `ratePerSec * durationMs / 1000` of them.
 * @example
 * poissonArrivals(200, 10_000, 1); // ~2000 arrivals over 10 s
 */
export function poissonArrivals(ratePerSec: number, durationMs: number, seed: number): number[] {
  return piecewiseArrivals([{ startMs: 0, ratePerSec }], durationMs, seed);
}

/** A burst on top of a base rate. */
export interface Burst {
  /** When the burst starts, ms from the start of the schedule. */
  readonly atMs: number;
  /** How long it lasts, ms. Seed 003's burst test: 300. */
  readonly lengthMs: number;
  /** Rate multiplier during the burst (>= 0). Seed 003: 2 (load doubled). */
  readonly factor: number;
}

/**
 * Poisson arrivals at `baseRatePerSec`, except during one burst when the rate is `factor` times the base:
 * seed 003's burst test is `{ atMs, lengthMs: 300, factor: 2 }` (load doubled for 0.3 s).
 *
 * @param baseRatePerSec rate outside the burst, per second.
 * @param durationMs length of the schedule, ms.
 * @param burst when, how long, how strong; a burst past `durationMs` is cut at the end.
 * @param seed seed of the random stream (see {@link piecewiseArrivals}).
 * @returns sorted arrival times in [0, durationMs), ms.
 * @example
 * burstArrivals(400, 5_000, { atMs: 2_000, lengthMs: 300, factor: 2 }, 3);
 */
export function burstArrivals(baseRatePerSec: number, durationMs: number, burst: Burst, seed: number): number[] {
  checkNonNegative('burst.atMs', burst.atMs);
  checkNonNegative('burst.lengthMs', burst.lengthMs);
  checkNonNegative('burst.factor', burst.factor);
  checkNonNegative('baseRatePerSec', baseRatePerSec);
  return piecewiseArrivals(
    [
      { startMs: 0, ratePerSec: baseRatePerSec },
      { startMs: burst.atMs, ratePerSec: baseRatePerSec * burst.factor },
      { startMs: burst.atMs + burst.lengthMs, ratePerSec: baseRatePerSec },
    ],
    durationMs,
    seed,
  );
}
