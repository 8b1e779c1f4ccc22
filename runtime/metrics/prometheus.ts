import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CallHistogram, type HistogramChild } from './call-histogram.ts';
import type { HostMonitor } from '../host/host-monitor.ts';
import { mainThreadCpuSeconds } from '../host/main-thread-cpu.ts';
import { hostStages, type HostStage, type HostStageTotals } from '../host/host-stages.ts';

/** How a call ended, as `edgebatch_requests_total{outcome}` counts it. */
export type Outcome = 'ok' | 'bad_input' | 'shed' | 'failed' | 'cancelled';

/** One function's series, resolved once: observing on a child costs no label lookup per call. */
export interface FunctionSeries {
  readonly outcome: Record<Outcome, { inc(): void }>;
  readonly shed: { inc(): void };
  /** Observes milliseconds (the runtime's unit), exported in seconds. */
  readonly latency: { observe(ms: number): void };
  /** Observes milliseconds, exported in seconds. */
  readonly queueTime: { observe(ms: number): void };
}

/** A histogram child fed in ms, exporting seconds: Prometheus wants base units, the runtime times in ms. */
function inSeconds(child: HistogramChild): { observe(ms: number): void } {
  return { observe: (ms) => child.observe(ms / 1000) };
}

/**
 * A count kept as a plain number and handed to its prom-client Counter when the registry is read: an `inc`
 * on prom-client's child validates and hashes the label set per call, one per served call on the host path.
 */
class Tally {
  n = 0;
  inc(): void {
    this.n++;
  }
}

/** A prom-client Counter whose values are {@link Tally}s per label set, read at scrape time. */
function tallied<L extends string>(config: { name: string; help: string; labelNames: L[]; registers: Registry[] }) {
  const tallies: { labels: Record<L, string>; tally: Tally }[] = [];
  const counter = new Counter<L>({
    ...config,
    collect() {
      this.reset();
      for (const { labels, tally } of tallies) if (tally.n > 0) this.inc(labels, tally.n);
    },
  });
  return {
    counter,
    /** A tally for one label set (made once per series and kept). */
    tally(labels: Record<L, string>): Tally {
      const tally = new Tally();
      tallies.push({ labels: { ...labels }, tally });
      return tally;
    },
  };
}

/**
 * The runtime's Prometheus figures; one registry per runtime so tests and several runtimes do not collide.
 * Durations are in seconds (`_seconds`, Prometheus's base unit); where Triton has a figure of the same kind
 * the name follows it (request, queue and compute-infer durations), so a user who knows Triton finds them.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'function' | 'model' | 'outcome'>;
  readonly latency: CallHistogram<'function' | 'model'>;
  readonly queueTime: CallHistogram<'function' | 'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly batchRunTime: Histogram<'model'>;
  readonly shed: Counter<'function' | 'model'>;
  readonly #requestTallies: ReturnType<typeof tallied<'function' | 'model' | 'outcome'>>;
  readonly #shedTallies: ReturnType<typeof tallied<'function' | 'model'>>;
  /** Calls to a function that does not exist: no function label, so a scanner cannot grow the series without bound. */
  readonly unknownFunction: Counter;
  readonly liveRate: Gauge<'model'>;
  readonly predictedBound: Gauge<'model'>;
  readonly hold: Gauge<'model'>;
  /** Per model, per function (or v2 caller). */
  readonly #series = new Map<string, Map<string, FunctionSeries>>();

  constructor(host: HostMonitor, stages: HostStageTotals) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'edgebatch_process_' });
    const seconds = [0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5];
    this.#requestTallies = tallied({
      name: 'edgebatch_requests_total',
      help: 'Invocations of existing functions by outcome (ok, bad_input, shed, failed, cancelled); bad_input includes bodies that are not JSON.',
      labelNames: ['function', 'model', 'outcome'],
      registers,
    });
    this.requests = this.#requestTallies.counter;
    this.unknownFunction = new Counter({
      name: 'edgebatch_requests_unknown_function_total',
      help: 'Invocations of a function that does not exist (answered 404).',
      registers,
    });
    // Per function, observed by every call: CallHistogram (metrics/call-histogram.ts), not prom-client's.
    const perCall = (name: string, help: string) =>
      new CallHistogram({ name, help, labelNames: ['function', 'model'], buckets: seconds, registers });
    this.latency = perCall(
      'edgebatch_request_duration_seconds',
      'Arrival to reply of calls answered 200, seconds (Triton: request duration).',
    );
    this.queueTime = perCall('edgebatch_queue_duration_seconds', 'Arrival to dispatch to a lane, seconds (Triton: queue duration).');
    this.batchSize = new Histogram({
      name: 'edgebatch_batch_size',
      help: 'Items per batch.',
      labelNames: ['model'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.batchRunTime = new Histogram({
      name: 'edgebatch_compute_infer_duration_seconds',
      help: 'Device time per batch (session.run, timed in the lane), seconds (Triton: compute infer duration, per batch).',
      labelNames: ['model'],
      buckets: seconds,
      registers,
    });
    this.#shedTallies = tallied({
      name: 'edgebatch_shed_total',
      help: 'Invocations answered 503 by admission control.',
      labelNames: ['function', 'model'],
      registers,
    });
    this.shed = this.#shedTallies.counter;
    this.liveRate = new Gauge({
      name: 'edgebatch_arrival_rate_per_sec',
      help: 'Live arrival rate per model, all functions together.',
      labelNames: ['model'],
      registers,
    });
    this.predictedBound = new Gauge({
      name: 'edgebatch_predicted_mean_latency_bound_seconds',
      help: 'U(lambda) at the live rate, from the fitted batch cost, seconds.',
      labelNames: ['model'],
      registers,
    });
    this.hold = new Gauge({
      name: 'edgebatch_hold_seconds',
      help: 'Hold the slo policy would choose now, seconds.',
      labelNames: ['model'],
      registers,
    });
    new Gauge({
      name: 'edgebatch_main_thread_cpu_seconds_total',
      help: 'CPU time of the main thread (the event loop: HTTP, parse, validate, pre, post), seconds; lane threads excluded.',
      registers,
      collect() {
        const s = mainThreadCpuSeconds();
        if (s !== null) this.set(s);
      },
    });
    // Per stage of the host path, read from the totals at scrape time: seconds, and passes (calls; batches
    // for handover), whose ratio is the mean time of one pass.
    const perStage = (name: string, help: string, read: () => Record<HostStage, number>) =>
      new Counter({
        name,
        help,
        labelNames: ['stage'],
        registers,
        collect() {
          this.reset();
          const v = read();
          for (const stage of hostStages) this.inc({ stage }, v[stage]);
        },
      });
    perStage('edgebatch_host_stage_seconds_total', 'Event-loop time per stage of the host path, summed over calls, seconds.', () =>
      stages.seconds(),
    );
    perStage('edgebatch_host_stage_passes_total', 'Passes through each stage of the host path (calls; batches for handover).', () =>
      stages.counts(),
    );
    new Gauge({
      name: 'edgebatch_event_loop_lag_seconds',
      help: 'How late a 10 ms timer fires now (what a request waits for the loop), seconds.',
      registers,
      collect() {
        this.set(host.view().lagMs / 1000);
      },
    });
    new Gauge({
      name: 'edgebatch_event_loop_utilization',
      help: 'Share of the recent past the event loop was busy, 0..1.',
      registers,
      collect() {
        this.set(host.view().utilization);
      },
    });
  }

  /** The series of one function, made once and reused. */
  series(fn: string, model: string): FunctionSeries {
    // Two levels rather than one joined key: the names are the same strings every call, whose hashes V8
    // keeps, where a joined key is a new string to hash per call.
    let ofModel = this.#series.get(model);
    if (!ofModel) this.#series.set(model, (ofModel = new Map()));
    let s = ofModel.get(fn);
    if (!s) {
      const labels = { function: fn, model };
      const outcome = {} as Record<Outcome, { inc(): void }>;
      for (const o of ['ok', 'bad_input', 'shed', 'failed', 'cancelled'] as const)
        outcome[o] = this.#requestTallies.tally({ ...labels, outcome: o });
      s = {
        outcome,
        shed: this.#shedTallies.tally(labels),
        latency: inSeconds(this.latency.labels(labels)),
        queueTime: inSeconds(this.queueTime.labels(labels)),
      };
      ofModel.set(fn, s);
    }
    return s;
  }
}
