import type { Registry } from 'prom-client';

/** One exported sample, in the shape prom-client's registry formats (its `MetricValueWithName`). */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** One label set's buckets: observing is a loop over the bounds and three additions, no allocation. */
export class HistogramChild {
  readonly #bounds: readonly number[];
  /** Per bound, observations at most that bound and over the one before (not cumulative); the last is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** Adds one observation; a value that is not a finite number is not counted (prom-client's would throw). */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram for the figures every call adds (its latency, its queue time), registered in a
 * prom-client registry and exported exactly as prom-client's own `Histogram` (`_bucket` with `le`, `_sum`,
 * `_count`). Why not prom-client's: its `observe`, even on a child made by `labels()`, converts, validates
 * and hashes the label set on every call (with the counter, 2-4.5 us a served call in `npm run profile`
 * before this class). Here a label set's child is found once and observing on it is O(1)
 * in the labels; the registry reads the counts only when /metrics is scraped.
 */
export class CallHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #children = new Map<string, { labels: Record<L, string>; child: HistogramChild }>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    // The registry takes any metric that reports itself through get(); prom-client types that as its own classes.
    for (const r of config.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The child of one label set, made on first use; keep it and observe on it. */
  labels(labels: Record<L, string>): HistogramChild {
    const key = JSON.stringify(labels);
    let entry = this.#children.get(key);
    if (!entry) this.#children.set(key, (entry = { labels: { ...labels }, child: new HistogramChild(this.#bounds) }));
    return entry.child;
  }

  /** What the registry exports: cumulative buckets, +Inf, sum and count per label set. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const { labels, child } of this.#children.values()) {
      let cumulative = 0;
      for (let i = 0; i < child.counts.length; i++) {
        cumulative += child.counts[i];
        const le = i < this.#bounds.length ? this.#bounds[i] : '+Inf';
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...labels }, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes every label set (the registry's resetMetrics); the children stay valid. */
  reset(): void {
    for (const { child } of this.#children.values()) child.clear();
  }
}
