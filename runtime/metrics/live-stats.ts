import { RateMeter } from '../scheduler/rate.ts';

/** Live figures of one function over its most recent calls. */
export interface LiveFigures {
  /** Calls offered per second (before admission). */
  ratePerSec: number;
  /** Over the recent calls answered 200 only: a 503 takes no time worth averaging. */
  meanLatencyMs: number | null;
  p50LatencyMs: number | null;
  p99LatencyMs: number | null;
  /** Share of recent calls answered 200 within the SLO; shed and failed calls count as misses. */
  sloAttainment: number | null;
  /** Share of recent calls shed (503). */
  shedShare: number | null;
  meanBatch: number | null;
  /** Recent calls these figures cover (served, shed and failed). */
  calls: number;
  /** Of those, answered 200. */
  served: number;
}

const served = 0;
const shed = 1;
const failed = 2;

/**
 * A fixed ring of the last `capacity` outcomes: enough for means and a p99 without unbounded memory.
 * Recording is O(1) with no allocation; reading sorts the served latencies (a few thousand numbers).
 */
export class LiveStats {
  readonly #rate = new RateMeter();
  readonly #capacity: number;
  readonly #latency: Float64Array;
  readonly #batch: Float64Array;
  readonly #met: Uint8Array;
  readonly #kind: Uint8Array;
  #count = 0;
  #next = 0;

  constructor(capacity = 2048) {
    this.#capacity = capacity;
    this.#latency = new Float64Array(capacity);
    this.#batch = new Float64Array(capacity);
    this.#met = new Uint8Array(capacity);
    this.#kind = new Uint8Array(capacity);
  }

  /** A call arrived (before admission: this is the offered rate). */
  arrival(nowMs: number): void {
    this.#rate.record(nowMs);
  }

  /** A call answered 200: its latency, the batch it rode in, whether it met its SLO. */
  record(latencyMs: number, batchSize: number, metSlo: boolean): void {
    this.#push(served, latencyMs, batchSize, metSlo);
  }

  /** A call answered 503 by admission control. */
  shed(): void {
    this.#push(shed, 0, 0, false);
  }

  /** A call that failed on the server side (500). */
  failed(): void {
    this.#push(failed, 0, 0, false);
  }

  #push(kind: number, latencyMs: number, batchSize: number, met: boolean): void {
    const i = this.#next;
    this.#kind[i] = kind;
    this.#latency[i] = latencyMs;
    this.#batch[i] = batchSize;
    this.#met[i] = met ? 1 : 0;
    this.#next = (i + 1) % this.#capacity;
    this.#count = Math.min(this.#count + 1, this.#capacity);
  }

  figures(nowMs: number): LiveFigures {
    const ratePerSec = this.#rate.perSecond(nowMs);
    const n = this.#count;
    if (n === 0)
      return {
        ratePerSec,
        meanLatencyMs: null,
        p50LatencyMs: null,
        p99LatencyMs: null,
        sloAttainment: null,
        shedShare: null,
        meanBatch: null,
        calls: 0,
        served: 0,
      };
    let sum = 0;
    let met = 0;
    let shedCount = 0;
    const lat: number[] = [];
    let batchSum = 0;
    for (let i = 0; i < n; i++) {
      met += this.#met[i];
      if (this.#kind[i] === shed) shedCount++;
      if (this.#kind[i] !== served) continue;
      sum += this.#latency[i];
      batchSum += this.#batch[i];
      lat.push(this.#latency[i]);
    }
    const m = lat.length;
    lat.sort((a, b) => a - b);
    return {
      ratePerSec,
      meanLatencyMs: m ? sum / m : null,
      p50LatencyMs: m ? quantile(lat, 0.5) : null,
      p99LatencyMs: m ? quantile(lat, 0.99) : null,
      sloAttainment: met / n,
      shedShare: shedCount / n,
      meanBatch: m ? batchSum / m : null,
      calls: n,
      served: m,
    };
  }
}

/** The nearest-rank `q` quantile of `sorted` (ascending, not empty). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
