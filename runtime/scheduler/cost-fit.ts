/** A fitted batch cost tau(b) = alphaMs*b + tau0Ms, with how well it fits. */
export interface CostFit {
  readonly alphaMs: number;
  readonly tau0Ms: number;
  /** Coefficient of determination over the evidence (window and anchors); 1 is perfect. */
  readonly r2: number;
  /** Median of |residual| / measured over the evidence: the typical relative miss of a prediction. */
  readonly relativeError: number;
  /** Batches in the evidence (window and anchors). */
  readonly samples: number;
  /** Distinct batch sizes in the evidence: a line needs two. */
  readonly sizes: number;
  /**
   * `good`: acted on. `fallback`: this fit's own evidence fit poorly, so the numbers are those of the last
   * good fit; `reason` says why.
   */
  readonly quality: 'good' | 'fallback';
  readonly reason?: string;
}

/**
 * Online fit of a model's device time against batch size: a sliding window of recent batches (seed 003
 * re-fits from recent batches) plus the warm-up probe's points as fixed anchors. Theil-Sen (median of
 * pairwise slopes, then median intercept) so a few slow batches - a GC pause, a noisy neighbour - do not
 * drag the line.
 *
 * The anchors keep the slope identified: under steady load every batch has about the same size, and a
 * window of equal sizes says nothing about alpha (an earlier version then fitted alpha = 0 and predicted an
 * unbounded max rate). With anchors at sizes 1 and 8 and the window around size 40, the slope is measured
 * across the whole range. Anchors weigh as much as the window's own pairs only while the window lacks spread.
 *
 * A fit whose relative error is over {@link maxRelativeError} is not acted on: the last good fit stays in
 * force, flagged `fallback` with the reason.
 */
export class CostFitter {
  readonly #window: number;
  readonly #b: number[] = [];
  readonly #ms: number[] = [];
  readonly #anchorB: number[] = [];
  readonly #anchorMs: number[] = [];
  #cached: CostFit | undefined;
  #lastGood: CostFit | undefined;
  /** Samples added since the last refit. */
  #pending = 0;

  /** @param window how many recent batches the fit uses (at least 2). */
  constructor(window = 200) {
    if (!Number.isInteger(window) || window < 2) throw new TypeError(`window must be an integer >= 2, got ${window}`);
    this.#window = window;
  }

  /** Records one batch of `batchSize` items that took `ms` on the device. */
  add(batchSize: number, ms: number): void {
    if (!valid(batchSize, ms)) return;
    this.#b.push(batchSize);
    this.#ms.push(ms);
    if (this.#b.length > this.#window) {
      this.#b.shift();
      this.#ms.shift();
    }
    this.#pending++;
  }

  /** Records a probe point that stays in the evidence for good (at most {@link maxAnchors}, the latest kept). */
  anchor(batchSize: number, ms: number): void {
    if (!valid(batchSize, ms)) return;
    this.#anchorB.push(batchSize);
    this.#anchorMs.push(ms);
    if (this.#anchorB.length > maxAnchors) {
      this.#anchorB.shift();
      this.#anchorMs.shift();
    }
    this.#pending++;
  }

  /** Forgets every sample and anchor. */
  clear(): void {
    for (const a of [this.#b, this.#ms, this.#anchorB, this.#anchorMs]) a.length = 0;
    this.#cached = undefined;
    this.#lastGood = undefined;
    this.#pending = 0;
  }

  /**
   * The fit in force, or undefined until batches of at least two different sizes have been seen. It is
   * read at every scheduling decision, so it is refitted only every {@link refitEvery} new batches once it
   * exists (a profile at 400 MLP calls/s found a refit per batch taking 28% of the event loop).
   */
  get(): CostFit | undefined {
    if (this.#pending > 0 && (this.#cached === undefined || this.#pending >= refitEvery)) {
      this.#pending = 0;
      this.#cached = this.#refit();
    }
    return this.#cached;
  }

  #refit(): CostFit | undefined {
    const fresh = fitTheilSen([...this.#anchorB, ...this.#b], [...this.#anchorMs, ...this.#ms]);
    const verdict = this.#judge(fresh);
    if (verdict === 'usable') return (this.#lastGood = fresh);
    // Not usable: either the anchors disagree with recent batches (the device got faster or slower since the
    // probe), or the evidence lost its slope (small batches on a loaded machine ran slower than the probe's
    // large ones, so every slope was negative and the median clamped to 0; seen in CI). Recent batches alone
    // then decide: their own line, or the last good line scaled to their level (the shape from before, the
    // level from now). A device whose cost stopped growing with the batch is far less likely than a noisy level.
    const lostSlope = verdict === 'lost-slope';
    if (this.#b.length >= refitEvery) {
      const own = fitTheilSen(this.#b, this.#ms);
      const recent = this.#judge(own) === 'usable' ? own : this.#lastGood && fitScaled(this.#b, this.#ms, this.#lastGood);
      if (this.#judge(recent) === 'usable') {
        const reason = lostSlope
          ? 'the evidence lost its slope (alpha 0); the last good line, scaled to recent batches'
          : 'the warm-up probe points disagree with recent batches; fitted on recent batches';
        return (this.#lastGood = { ...recent!, reason });
      }
    }
    if (fresh && this.#lastGood) {
      const latest = `the latest fit (alpha ${fresh.alphaMs.toFixed(3)} ms, tau0 ${fresh.tau0Ms.toFixed(3)} ms)`;
      const reason = lostSlope
        ? `${latest} lost its slope; the last good fit stays in force`
        : `${latest} misses its own batches by ${(100 * fresh.relativeError).toFixed(0)}% (median); the last good fit stays in force`;
      return {
        ...this.#lastGood,
        r2: fresh.r2,
        relativeError: fresh.relativeError,
        samples: fresh.samples,
        sizes: fresh.sizes,
        quality: 'fallback',
        reason,
      };
    }
    return fresh;
  }

  /**
   * Whether a fit may be acted on, and if not why: `usable` when it matches its own evidence and keeps the
   * slope the last good fit had; `lost-slope` when it matches its evidence but its slope dropped to 0;
   * `misfit` when it misses its evidence (or there is none).
   */
  #judge(f: CostFit | undefined): 'usable' | 'lost-slope' | 'misfit' {
    if (!f || f.relativeError > maxRelativeError) return 'misfit';
    return f.alphaMs === 0 && this.#lastGood !== undefined && this.#lastGood.alphaMs > 0 ? 'lost-slope' : 'usable';
  }

  /**
   * The points the fit is made from, copied: the warm-up anchors and the recent window, each as
   * `[batch size, device ms]`. Read-only and only on request (the dashboard, once a second); recording
   * a batch does no extra work for it.
   */
  evidence(): { anchors: [number, number][]; recent: [number, number][] } {
    const pairs = (b: number[], ms: number[]) => b.map((x, i): [number, number] => [x, ms[i]]);
    return { anchors: pairs(this.#anchorB, this.#anchorMs), recent: pairs(this.#b, this.#ms) };
  }

  /** Predicted device time of a batch of `b` items, ms. */
  predict(b: number): number | undefined {
    const f = this.get();
    return f ? f.alphaMs * b + f.tau0Ms : undefined;
  }
}

function valid(batchSize: number, ms: number): boolean {
  return batchSize >= 1 && ms >= 0 && Number.isFinite(ms);
}

/** New batches between two refits of an existing fit. */
export const refitEvery = 8;

/** Probe points kept as anchors. */
export const maxAnchors = 12;

/**
 * Above this median relative miss a fit is not acted on. Device times on a shared CPU scatter by 10-20%
 * around the line; a fit that misses its own batches by half is describing something else.
 */
export const maxRelativeError = 0.35;

/** Most pairwise slopes one fit computes: enough for a stable median, cheap enough for the event loop. */
export const maxPairs = 1024;

/**
 * Median of `xs` (finite numbers), which it sorts in place. A Float64Array sorts numerically in native code:
 * a comparator sort of a plain array made a refit cost about 180 us, which the greedy policy, running
 * batches of one or two items, paid every eighth batch.
 */
function medianInPlace(xs: Float64Array): number {
  const s = xs.sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `f(i)` for i in [0, n), as a Float64Array. */
function each(n: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(i);
  return out;
}

/** `line` scaled by the median ratio of measured to predicted over (x, y). */
function fitScaled(x: readonly number[], y: readonly number[], line: CostFit): CostFit {
  const k = medianInPlace(each(y.length, (i) => y[i] / Math.max(line.alphaMs * x[i] + line.tau0Ms, 1e-9)));
  return quality(x, y, line.alphaMs * k, line.tau0Ms * k);
}

/** The line of slope `alpha` through (x, y): its intercept is the median residual (clamped at 0). */
function fitIntercept(x: readonly number[], y: readonly number[], alpha: number): CostFit {
  return quality(x, y, alpha, Math.max(0, medianInPlace(each(y.length, (i) => y[i] - alpha * x[i]))));
}

/** Theil-Sen line through (x, y), slope and intercept clamped at 0 (a batch cannot cost less than nothing). */
export function fitTheilSen(x: readonly number[], y: readonly number[]): CostFit | undefined {
  // Pairs over distinct sizes only; with a long window, compare each point with a strided set of others
  // so that at most about maxPairs slopes are computed.
  const n = x.length;
  const stride = Math.max(1, Math.ceil((n * (n - 1)) / 2 / maxPairs));
  const slopes = new Float64Array(n * Math.ceil(n / stride));
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j += stride) {
      if (x[i] !== x[j]) slopes[count++] = (y[j] - y[i]) / (x[j] - x[i]);
    }
  }
  if (count === 0) return undefined;
  const alpha = Math.max(0, medianInPlace(slopes.subarray(0, count)));
  return fitIntercept(x, y, alpha);
}

/** The line (alpha, tau0) with how well it fits (x, y). */
function quality(x: readonly number[], y: readonly number[], alpha: number, tau0: number): CostFit {
  const n = x.length;
  const mean = y.reduce((a, v) => a + v, 0) / n;
  let ssTot = 0;
  let ssRes = 0;
  const rel = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const predicted = alpha * x[i] + tau0;
    ssTot += (y[i] - mean) ** 2;
    ssRes += (y[i] - predicted) ** 2;
    rel[i] = Math.abs(y[i] - predicted) / Math.max(y[i], 1e-6);
  }
  return {
    alphaMs: alpha,
    tau0Ms: tau0,
    r2: ssTot > 0 ? 1 - ssRes / ssTot : 1,
    relativeError: medianInPlace(rel),
    samples: n,
    sizes: new Set(x).size,
    quality: 'good',
  };
}
