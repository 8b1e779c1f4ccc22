/**
 * Live arrival rate as an exponentially decaying count: each arrival adds 1/T, and the sum decays with
 * time constant T. Reads are O(1) and need no timer; an idle stream decays toward 0.
 */
export class RateMeter {
  readonly #tauMs: number;
  #value = 0;
  #lastMs: number | undefined;
  #firstMs: number | undefined;

  /** @param timeConstantMs how far back the rate looks (default 1000 ms). */
  constructor(timeConstantMs = 1000) {
    if (!(timeConstantMs > 0)) throw new TypeError(`timeConstantMs must be > 0, got ${timeConstantMs}`);
    this.#tauMs = timeConstantMs;
  }

  /** Records `count` arrivals at `nowMs`. */
  record(nowMs: number, count = 1): void {
    this.#value = this.#decayed(nowMs) + count / this.#tauMs;
    this.#lastMs = nowMs;
    this.#firstMs ??= nowMs;
  }

  /**
   * Events per second at `nowMs`. A young meter has not filled its window yet, so its sum is divided by
   * the share of the window it has seen, 1 - e^(-age/T) (counting at least a quarter window, so that the
   * first arrival alone does not read as a huge rate).
   */
  perSecond(nowMs: number): number {
    if (this.#firstMs === undefined) return 0;
    const age = Math.max(nowMs - this.#firstMs, this.#tauMs / 4);
    return (this.#decayed(nowMs) * 1000) / (1 - Math.exp(-age / this.#tauMs));
  }

  #decayed(nowMs: number): number {
    if (this.#lastMs === undefined) return 0;
    return this.#value * Math.exp(-Math.max(0, nowMs - this.#lastMs) / this.#tauMs);
  }
}
