/** The parts of a call's host path, in order. */
export const hostStages = ['read', 'parse', 'validate', 'pre', 'handover', 'post', 'reply'] as const;
export type HostStage = (typeof hostStages)[number];
const index = Object.fromEntries(hostStages.map((s, i) => [s, i])) as Record<HostStage, number>;

/**
 * Event-loop time per stage of the host path, summed over every call: where the loop goes, as a
 * breakdown the bench and `/metrics` read (`edgebatch_host_stage_seconds_total{stage}`). Plain numbers,
 * O(1) per call, no allocation.
 */
export class HostStageTotals {
  readonly #ms = new Float64Array(hostStages.length);
  readonly #n = new Float64Array(hostStages.length);

  /** One pass through a stage (one call, or one batch for `handover`) took `ms`. */
  add(stage: HostStage, ms: number): void {
    const i = index[stage];
    this.#ms[i] += ms;
    this.#n[i]++;
  }

  /** Passes through each stage so far: a call refused at the door never reaches `read`. */
  counts(): Record<HostStage, number> {
    const out = {} as Record<HostStage, number>;
    hostStages.forEach((s, i) => (out[s] = this.#n[i]));
    return out;
  }

  /** Seconds spent in each stage so far. */
  seconds(): Record<HostStage, number> {
    const out = {} as Record<HostStage, number>;
    hostStages.forEach((s, i) => (out[s] = this.#ms[i] / 1000));
    return out;
  }
}
