import type { RuntimeMetrics } from '../../metrics/prometheus.ts';

/** Running totals of one model since start, as the Prometheus series already count them. */
export interface ModelTotals {
  batches: number;
  items: number;
  /** Cumulative batch-size histogram: batches of at most `le` items. */
  buckets: { le: number; count: number }[];
  deviceSec: number;
  queueSec: number;
  queued: number;
}

/** The totals the dashboard needs, read at once so that differences between two reads are consistent. */
export interface Totals {
  models: Map<string, ModelTotals>;
  /** Calls answered 503 by admission control, per function. */
  shed: Map<string, number>;
}

type Values = { values: { labels: Record<string, string | number | undefined>; value: number; metricName?: string }[] };

/**
 * Reads the totals from the runtime's Prometheus registry: the dashboard adds no bookkeeping to the call
 * path, it reads what `/metrics` already exports (once a second per open dashboard).
 */
export async function readTotals(metrics: RuntimeMetrics): Promise<Totals> {
  const [size, device, queue, shed] = (await Promise.all([
    metrics.batchSize.get(),
    metrics.batchRunTime.get(),
    metrics.queueTime.get(),
    metrics.shed.get(),
  ])) as Values[];
  const models = new Map<string, ModelTotals>();
  const of = (model: unknown) => {
    const name = String(model);
    let t = models.get(name);
    if (!t) models.set(name, (t = { batches: 0, items: 0, buckets: [], deviceSec: 0, queueSec: 0, queued: 0 }));
    return t;
  };
  for (const v of size.values) {
    const t = of(v.labels.model);
    if (v.metricName?.endsWith('_bucket')) {
      if (v.labels.le !== '+Inf') t.buckets.push({ le: Number(v.labels.le), count: v.value });
    } else if (v.metricName?.endsWith('_sum')) t.items = v.value;
    else if (v.metricName?.endsWith('_count')) t.batches = v.value;
  }
  for (const v of device.values) if (v.metricName?.endsWith('_sum')) of(v.labels.model).deviceSec = v.value;
  // Queue time is per function; the model's is the sum over its functions (v2 callers included).
  for (const v of queue.values) {
    if (v.metricName?.endsWith('_sum')) of(v.labels.model).queueSec += v.value;
    else if (v.metricName?.endsWith('_count')) of(v.labels.model).queued += v.value;
  }
  const shedBy = new Map<string, number>();
  for (const v of shed.values) shedBy.set(String(v.labels.function), (shedBy.get(String(v.labels.function)) ?? 0) + v.value);
  return { models, shed: shedBy };
}
