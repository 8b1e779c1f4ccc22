/** A fitted batch cost tau(b) = alphaMs*b + tau0Ms, with how well it fits. */
export interface CostFit {
  readonly alphaMs: number;
  readonly tau0Ms: number;
  /** Coefficient of determination of the fit over the window (1 is perfect; can be low when b barely varies). */
  readonly r2: number;
  readonly samples: number;
}

/**
 * Online fit of a model's batch time against batch size over a sliding window of recent batches
 * (seed 003 re-fits from recent batches). Theil-Sen (median of pairwise slopes, then median intercept) so a
 * few slow batches - a GC pause, a noisy neighbour - do not drag the line.
 */
export class CostFitter {
  readonly #window: number;
  readonly #b: number[] = [];
  readonly #ms: number[] = [];
  #cached: CostFit | undefined;
  /** Samples added since the last refit. */
  #pending = 0;

  /** @param window how many recent batches the fit uses (at least 2). */
  constructor(window = 200) {
    if (!Number.isInteger(window) || window < 2) throw new TypeError(`window must be an integer >= 2, got ${window}`);
    this.#window = window;
  }

  /** Records one batch of `batchSize` items that took `ms` on the device. */
  add(batchSize: number, ms: number): void {
    if (!(batchSize >= 1) || !(ms >= 0) || !Number.isFinite(ms)) return;
    this.#b.push(batchSize);
    this.#ms.push(ms);
    if (this.#b.length > this.#window) {
      this.#b.shift();
      this.#ms.shift();
    }
    this.#pending++;
  }

  /** Forgets every sample. */
  clear(): void {
    this.#b.length = 0;
    this.#ms.length = 0;
    this.#cached = undefined;
    this.#pending = 0;
  }

  /**
   * The current fit, or undefined until batches of at least two different sizes have been seen. It is
   * read at every scheduling decision, so it is refitted only every {@link refitEvery} new batches once it
   * exists (a profile at 400 MLP calls/s found a refit per batch taking 28% of the event loop).
   */
  get(): CostFit | undefined {
    if (this.#pending > 0 && (this.#cached === undefined || this.#pending >= refitEvery)) {
      this.#cached = fitTheilSen(this.#b, this.#ms);
      this.#pending = 0;
    }
    return this.#cached;
  }

  /** Predicted device time of a batch of `b` items, ms. */
  predict(b: number): number | undefined {
    const f = this.get();
    return f ? f.alphaMs * b + f.tau0Ms : undefined;
  }
}

/** New batches between two refits of an existing fit. */
export const refitEvery = 8;

/** Most pairwise slopes one fit computes: enough for a stable median, cheap enough for the event loop. */
const maxPairs = 1024;

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Theil-Sen line through (x, y), slope and intercept clamped at 0 (a batch cannot cost less than nothing). */
export function fitTheilSen(x: readonly number[], y: readonly number[]): CostFit | undefined {
  const slopes: number[] = [];
  // Pairs over distinct sizes only; with a long window, compare each point with a strided set of others
  // so that at most about maxPairs slopes are computed.
  const n = x.length;
  const stride = Math.max(1, Math.ceil((n * (n - 1)) / 2 / maxPairs));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j += stride) {
      if (x[i] !== x[j]) slopes.push((y[j] - y[i]) / (x[j] - x[i]));
    }
  }
  if (slopes.length === 0) return undefined;
  const alpha = Math.max(0, median(slopes));
  const tau0 = Math.max(0, median(y.map((yi, i) => yi - alpha * x[i])));
  const mean = y.reduce((a, v) => a + v, 0) / n;
  let ssTot = 0;
  let ssRes = 0;
  for (let i = 0; i < n; i++) {
    ssTot += (y[i] - mean) ** 2;
    ssRes += (y[i] - (alpha * x[i] + tau0)) ** 2;
  }
  return { alphaMs: alpha, tau0Ms: tau0, r2: ssTot > 0 ? 1 - ssRes / ssTot : 1, samples: n };
}
