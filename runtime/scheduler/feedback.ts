/**
 * What items actually saw, smoothed: the feedback the slo policy checks the formula's feed-forward
 * against. The runtime's batcher and the simulator both feed one, so the policy sees the same signals.
 */
export class LatencyFeedback {
  #meanMs: number | undefined;
  #lateShare: number | undefined;

  /** One item finished on the device `latencyMs` after it arrived; `late` when that was past its deadline. */
  record(latencyMs: number, late: boolean): void {
    // Mean: fast enough to follow a load change within a few dozen items.
    this.#meanMs = this.#meanMs === undefined ? latencyMs : this.#meanMs + 0.05 * (latencyMs - this.#meanMs);
    // Late share: slower, so that one late item among many does not read as a trend.
    const x = late ? 1 : 0;
    this.#lateShare = this.#lateShare === undefined ? x : this.#lateShare + 0.02 * (x - this.#lateShare);
  }

  /** Smoothed arrival-to-device-finish time, ms (undefined before the first item). */
  get meanMs(): number | undefined {
    return this.#meanMs;
  }

  /** Smoothed share of items finishing after their deadline, 0..1 (undefined before the first item). */
  get lateShare(): number | undefined {
    return this.#lateShare;
  }
}
