import { RateMeter } from '../scheduler/rate.ts';

/** Live figures of one function over its most recent calls. */
export interface LiveFigures {
  ratePerSec: number;
  meanLatencyMs: number | null;
  p99LatencyMs: number | null;
  /** Share of recent completed calls answered within the SLO (shed calls count as misses). */
  sloAttainment: number | null;
  meanBatch: number | null;
  calls: number;
}

/**
 * A fixed ring of the last `capacity` outcomes: enough for means and a p99 without unbounded memory.
 */
export class LiveStats {
  readonly #rate = new RateMeter();
  readonly #capacity: number;
  readonly #latency: Float64Array;
  readonly #batch: Float64Array;
  readonly #met: Uint8Array;
  #count = 0;
  #next = 0;

  constructor(capacity = 2048) {
    this.#capacity = capacity;
    this.#latency = new Float64Array(capacity);
    this.#batch = new Float64Array(capacity);
    this.#met = new Uint8Array(capacity);
  }

  /** A call arrived (before admission: this is the offered rate). */
  arrival(nowMs: number): void {
    this.#rate.record(nowMs);
  }

  /** A completed call: its latency, the batch it rode in (0 when shed or failed), whether it met its SLO. */
  record(latencyMs: number, batchSize: number, metSlo: boolean): void {
    this.#latency[this.#next] = latencyMs;
    this.#batch[this.#next] = batchSize;
    this.#met[this.#next] = metSlo ? 1 : 0;
    this.#next = (this.#next + 1) % this.#capacity;
    this.#count = Math.min(this.#count + 1, this.#capacity);
  }

  figures(nowMs: number): LiveFigures {
    const ratePerSec = this.#rate.perSecond(nowMs);
    const n = this.#count;
    if (n === 0) return { ratePerSec, meanLatencyMs: null, p99LatencyMs: null, sloAttainment: null, meanBatch: null, calls: 0 };
    let sum = 0;
    let met = 0;
    let batchSum = 0;
    let batched = 0;
    const lat = Array.from(this.#latency.subarray(0, n));
    for (let i = 0; i < n; i++) {
      sum += this.#latency[i];
      met += this.#met[i];
      if (this.#batch[i] > 0) {
        batchSum += this.#batch[i];
        batched++;
      }
    }
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.min(n - 1, Math.ceil(0.99 * n) - 1)];
    return { ratePerSec, meanLatencyMs: sum / n, p99LatencyMs: p99, sloAttainment: met / n, meanBatch: batched ? batchSum / batched : null, calls: n };
  }
}
