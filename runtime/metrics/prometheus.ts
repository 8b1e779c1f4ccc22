import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The runtime's Prometheus figures; one registry per runtime so tests and several runtimes do not collide. */
export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'function' | 'model' | 'outcome'>;
  readonly latency: Histogram<'function' | 'model'>;
  readonly queueTime: Histogram<'function' | 'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly batchRunTime: Histogram<'model'>;
  readonly shed: Counter<'function' | 'model'>;
  readonly liveRate: Gauge<'model'>;
  readonly predictedBound: Gauge<'model'>;
  readonly hold: Gauge<'model'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'edgebatch_process_' });
    const ms = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500];
    this.requests = new Counter({ name: 'edgebatch_requests_total', help: 'Invocations by outcome (ok, bad_input, shed, failed, cancelled).', labelNames: ['function', 'model', 'outcome'], registers });
    this.latency = new Histogram({ name: 'edgebatch_latency_ms', help: 'Arrival to reply, ms.', labelNames: ['function', 'model'], buckets: ms, registers });
    this.queueTime = new Histogram({ name: 'edgebatch_queue_ms', help: 'Arrival to dispatch, ms.', labelNames: ['function', 'model'], buckets: ms, registers });
    this.batchSize = new Histogram({ name: 'edgebatch_batch_size', help: 'Items per batch.', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.batchRunTime = new Histogram({ name: 'edgebatch_batch_run_ms', help: 'Device time per batch, ms.', labelNames: ['model'], buckets: ms, registers });
    this.shed = new Counter({ name: 'edgebatch_shed_total', help: 'Invocations answered 503 by admission control.', labelNames: ['function', 'model'], registers });
    this.liveRate = new Gauge({ name: 'edgebatch_arrival_rate_per_sec', help: 'Live arrival rate per model, all functions together.', labelNames: ['model'], registers });
    this.predictedBound = new Gauge({ name: 'edgebatch_predicted_mean_latency_bound_ms', help: 'U(lambda) at the live rate, from the fitted batch cost.', labelNames: ['model'], registers });
    this.hold = new Gauge({ name: 'edgebatch_hold_ms', help: 'Hold the slo policy would choose now.', labelNames: ['model'], registers });
  }
}
